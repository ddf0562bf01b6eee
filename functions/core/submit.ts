import type { Deps } from './deps';
import { errors, failureMessages } from './errors';
import { type ApiKey, InsufficientCreditsError } from './ports';
import { describeIssue, generateRequestSchema } from './schema';
import { newTask } from './task';

const requestFields = [
  'prompt',
  'imageUrls',
  'model',
  'generationType',
  'aspectRatio',
  'seeds',
  'watermark',
  'callBackUrl',
  'enableTranslation',
  'enableFallback',
] as const;

/**
 * POST /veo/generate: validate, write the task and charge its credits in one transaction, queue it.
 * Nothing is written or charged unless the request is valid and the key can pay.
 */
export async function submitTask(deps: Deps, key: ApiKey, body: unknown): Promise<{ taskId: string }> {
  const parsed = generateRequestSchema(deps.settings.urlPolicy).safeParse(body);
  if (!parsed.success) throw errors.validation(describeIssue(parsed.error));
  const request = parsed.data;
  if (request.watermark && !deps.settings.ffmpegAvailable) {
    throw errors.featureDisabled(failureMessages.watermarkDisabled);
  }
  const price = deps.settings.prices[request.model];
  const task = newTask({
    request,
    paramJson: JSON.stringify(pick(body as Record<string, unknown>, requestFields)),
    keyHash: key.keyHash,
    credits: price,
    provider: deps.provider.name,
    now: deps.now(),
    retentionDays: deps.settings.retentionDays,
    budgetSeconds: deps.settings.budgetSeconds,
  });

  try {
    await deps.tasks.createCharged(task, { keyHash: key.keyHash, credits: price });
  } catch (error) {
    if (error instanceof InsufficientCreditsError) throw errors.insufficientCredits(price, error.balance);
    throw error;
  }
  deps.log.info('task created', { taskId: task.taskId, model: request.model, credits: price });

  try {
    await deps.queues.generate({ taskId: task.taskId });
  } catch (error) {
    // Without a queued message the task would never move: end it and give the credits back.
    await deps.tasks.transition(
      task.taskId,
      'queued',
      {
        status: 'failed',
        errorCode: 500,
        errorMessage: failureMessages.queueUnavailable,
        completedAt: deps.now(),
      },
      { keyHash: key.keyHash, credits: price },
    );
    throw error;
  }
  return { taskId: task.taskId };
}

/** The caller's remaining credits, read consistently. */
export async function creditBalance(deps: Deps, key: ApiKey): Promise<number> {
  const fresh = await deps.apiKeys.get(key.keyHash);
  return fresh?.credits ?? 0;
}

/** Keeps only the contract's fields, so paramJson shows what was accepted and nothing else. */
function pick(body: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(fields.filter((f) => body[f] !== undefined).map((f) => [f, body[f]]));
}
