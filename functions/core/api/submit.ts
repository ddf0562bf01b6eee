import type { DepsFor } from '../deps';
import { errors, failureMessages, IdempotencyConflictError, KieError, toKieError } from '../errors';
import { capabilityRequestOfTask, checkOnPool, poolOf } from '../pool';
import type { ApiKey, IdempotencyRecord } from '../ports';
import { PRICED_BASE_SECONDS, taskCredits } from '../pricing';
import { keyRateWindow, withinRateWindow } from '../rate-window';
import { describeIssue, extendRequestSchema, type GenerateRequest, generateRequestSchema } from '../schema';
import type { TaskChange } from '../task/change';
import { carryingChange, moveTask } from '../task/move';
import { type AskedVideo, isExpired, newTask, type Task } from '../task/task';
import { creditBalance } from './credit';
import { idempotencyTtlSeconds, requestHash } from './idempotency';
import { cachedSchema } from './schema-cache';

/** What POST /veo/generate and /veo/extend use. */
export type SubmitDeps = DepsFor<'tasks' | 'apiKeys' | 'queues' | 'settings' | 'log' | 'metrics' | 'now'>;

const requestFields = [
  'prompt',
  'imageUrls',
  'model',
  'generationType',
  'aspectRatio',
  'aspect_ratio',
  'seeds',
  'watermark',
  'callBackUrl',
  'enableTranslation',
  'enableFallback',
  ...veoOptionNames(),
] as const;

/** The Veo 3.1 option fields (issue 15), kept in paramJson as sent. */
function veoOptionNames() {
  return [
    'resolution',
    'duration',
    'durationSeconds',
    'generateAudio',
    'negativePrompt',
    'personGeneration',
    'sampleCount',
  ] as const;
}

/** What a submit carries besides its body: the client's Idempotency-Key header, already checked. */
export interface SubmitOptions {
  idempotencyKey?: string;
}

const extendFields = [
  'taskId',
  'prompt',
  'seeds',
  'model',
  'watermark',
  'callBackUrl',
  'enableTranslation',
  ...veoOptionNames(),
] as const;

/**
 * POST /veo/generate: validate, write the task and charge its credits in one transaction, queue it.
 * Nothing is written or charged unless the request is valid and the key can pay.
 */
export async function submitTask(
  deps: SubmitDeps,
  key: ApiKey,
  body: unknown,
  options: SubmitOptions = {},
): Promise<{ taskId: string }> {
  const parsed = generateSchema(deps.settings.urlPolicy).safeParse(body);
  if (!parsed.success) throw errors.validation(describeIssue(parsed.error));
  const retry = await replay(deps, key, options, () => requestHash('generate', body));
  if (retry.taskId) return { taskId: retry.taskId };
  return queueNewTask(deps, key, parsed.data, pick(body as Record<string, unknown>, requestFields), {
    idempotency: retry.claim,
    taskToken: taskTokenOf(body),
  });
}

/**
 * POST /veo/extend: a new task that continues a finished one of the caller's, with its own lifecycle,
 * charged like a new generation. The stitched video ends up in its `response.fullResultUrls`.
 */
export async function submitExtension(
  deps: SubmitDeps,
  key: ApiKey,
  body: unknown,
  options: SubmitOptions = {},
): Promise<{ taskId: string }> {
  const parsed = extendSchema(deps.settings.urlPolicy).safeParse(body);
  if (!parsed.success) throw errors.validation(describeIssue(parsed.error));
  const retry = await replay(deps, key, options, () => requestHash('extend', body));
  if (retry.taskId) return { taskId: retry.taskId };
  const { taskId, ...extension } = parsed.data;
  const source = await deps.tasks.get(taskId);
  // Another key's task answers exactly like an unknown one.
  if (!source || source.keyHash !== key.keyHash) throw errors.recordNull();
  if (source.status !== 'succeeded' || !source.results?.length) {
    throw errors.validation('record status is not success');
  }
  // The worker reads the source video, which the bucket keeps for the retention only: it must outlive the
  // extension's whole budget, or the extension would be charged and then fail.
  if (isExpired(source, deps.now() + deps.settings.budgetSeconds * 1000, deps.settings.retentionDays)) {
    throw errors.recordExpired(deps.settings.retentionDays);
  }
  const request: GenerateRequest = {
    ...extension,
    seeds: extension.seeds,
    watermark: extension.watermark,
    imageUrls: [],
    generationType: 'TEXT_2_VIDEO',
    // An extension keeps the shape of the video it continues.
    aspectRatio: source.aspectRatio === '9:16' ? '9:16' : '16:9',
  };
  return queueNewTask(deps, key, request, pick(body as Record<string, unknown>, extendFields), {
    extendsTaskId: source.taskId,
    idempotency: retry.claim,
    taskToken: taskTokenOf(body),
  });
}

const generateSchema = cachedSchema(generateRequestSchema);
const extendSchema = cachedSchema(extendRequestSchema);

/** An Idempotency-Key not yet used, with the hash of the request it is about to stand for. */
type IdempotencyClaim = Pick<IdempotencyRecord, 'idempotencyKey' | 'bodyHash'>;

/**
 * A retried submit (same Idempotency-Key, same body, within 24 h) answers with the task it made, before
 * the rate limit is consulted, so retries never use up the key's slots; a different body is a 422.
 */
async function replay(
  deps: SubmitDeps,
  key: ApiKey,
  { idempotencyKey }: SubmitOptions,
  hashBody: () => string,
): Promise<{ taskId?: string; claim?: IdempotencyClaim }> {
  if (idempotencyKey === undefined) return {};
  const bodyHash = hashBody();
  const stored = await deps.tasks.findIdempotency(key.keyHash, idempotencyKey, deps.now());
  if (!stored) return { claim: { idempotencyKey, bodyHash } };
  if (stored.bodyHash !== bodyHash) throw errors.idempotencyKeyReused();
  deps.log.appendKeys({ taskId: stored.taskId });
  deps.log.info('idempotent retry');
  return { taskId: stored.taskId };
}

/**
 * Writes the task, charges it and takes the key's rate-limit slot in one transaction (with the
 * Idempotency-Key record, if any), then queues it; a task that cannot be queued is refunded.
 */
async function queueNewTask(
  deps: SubmitDeps,
  key: ApiKey,
  request: GenerateRequest,
  accepted: Record<string, unknown>,
  {
    extendsTaskId,
    idempotency,
    taskToken,
  }: { extendsTaskId?: string; idempotency?: IdempotencyClaim; taskToken?: string } = {},
): Promise<{ taskId: string }> {
  if (request.watermark && !deps.settings.ffmpegAvailable) {
    throw errors.watermarkDisabled();
  }
  // A task token makes the notifier answer a state machine: only keys configured for it
  // (TASK_TOKEN_KEYS: key names or key hashes).
  const allowed = deps.settings.taskTokenKeys ?? [];
  if (taskToken !== undefined && !allowed.includes(key.name) && !allowed.includes(key.keyHash)) {
    throw errors.validation('taskToken is not allowed for this API key (TASK_TOKEN_KEYS)');
  }
  const { asked, notApplied } = judge(deps, request, extendsTaskId !== undefined);
  const price = taskCredits(deps.settings, {
    ...asked,
    model: request.model,
    // An extension is charged as a generation of its model's base length (core/pricing.ts).
    durationSeconds: extendsTaskId ? PRICED_BASE_SECONDS : asked.durationSeconds,
  });
  const task: Task = {
    ...newTask({
      request,
      paramJson: JSON.stringify(accepted),
      keyHash: key.keyHash,
      credits: price,
      provider: deps.settings.providerName,
      now: deps.now(),
      retentionDays: deps.settings.retentionDays,
      budgetSeconds: deps.settings.budgetSeconds,
    }),
    extendsTaskId,
    asked,
    ...(notApplied.length > 0 ? { notApplied } : {}),
    ...(taskToken !== undefined && { taskToken }),
  };

  const record: IdempotencyRecord | undefined = idempotency && {
    ...idempotency,
    keyHash: key.keyHash,
    taskId: task.taskId,
    expiresAt: Math.floor(task.createdAt / 1000) + idempotencyTtlSeconds,
  };
  const rate = keyRateWindow(key, deps.settings.rateLimit);
  try {
    await withinRateWindow(rate, () =>
      deps.tasks.createCharged(task, { keyHash: key.keyHash, credits: price }, { idempotency: record, rate }),
    );
  } catch (error) {
    // A spent window is refused before the charge that would have seen a revocation; the key may come
    // from the authentication cache, so read it before saying 429 to a key that is no longer valid.
    if (error instanceof KieError && error.code === 429) await creditBalance(deps, key);
    // A concurrent duplicate won the Idempotency-Key: nothing of this request was written.
    if (error instanceof IdempotencyConflictError) {
      if (error.existing.bodyHash !== idempotency?.bodyHash) throw errors.idempotencyKeyReused();
      return { taskId: error.existing.taskId };
    }
    throw toKieError(error, { charge: price });
  }
  deps.log.appendKeys({ taskId: task.taskId });
  deps.log.info('task created', { model: request.model, credits: price, extendsTaskId });
  deps.metrics.count('TasksSubmitted', { model: request.model }, { keyHash: task.keyHash.slice(0, 8) });

  // One message: the work, carrying the task's `queued` change, which the worker publishes with the first
  // change it makes (core/task/move.ts carryingChange): a submit costs one SQS call, a task two fewer.
  const queued: TaskChange = { type: 'queued', at: task.updatedAt, task };
  try {
    await deps.queues.generate({ taskId: task.taskId, change: queued });
  } catch (error) {
    // Without a queued message the task would never move: end it and give the credits back (its end's
    // notify message carrying `queued` too, so its events still begin there).
    await carryingChange(deps, queued, async (d) => {
      await moveTask(d, task, 'failed', { errorCode: 500, errorMessage: failureMessages.queueUnavailable });
    });
    throw error;
  }
  return { taskId: task.taskId };
}

/**
 * What the deployment's upstream will make of the request (core/capabilities.ts), or a 422 naming the
 * field and the upstream before anything is written or charged. An `Auto` ratio is judged as 16:9, the
 * ratio it means without images (with images the worker picks the nearer one).
 */
function judge(
  deps: SubmitDeps,
  request: GenerateRequest,
  extend: boolean,
): { asked: AskedVideo; notApplied: string[] } {
  // Any upstream of the pool that can honour it will do (the worker routes it); a pool of one is today's check.
  const check = checkOnPool(poolOf(deps.settings), capabilityRequestOfTask(request, extend));
  if (!check.ok) throw errors.validation(check.message);
  const { resolution, durationSeconds, generateAudio, sampleCount } = check.applied;
  return { asked: { resolution, durationSeconds, generateAudio, sampleCount }, notApplied: check.notApplied };
}

/**
 * The body's Step Functions task token, once the schema accepted the body (a string of at most 2,048
 * characters, or absent). Kept out of the request and of paramJson: whoever holds it can end a state
 * machine's step, so records and events never show it.
 */
function taskTokenOf(body: unknown): string | undefined {
  const { taskToken } = body as { taskToken?: unknown };
  return typeof taskToken === 'string' ? taskToken : undefined;
}

/** Keeps only the contract's fields, so paramJson shows what was accepted and nothing else. */
function pick(body: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(fields.filter((f) => body[f] !== undefined).map((f) => [f, body[f]]));
}
