import { randomUUID } from 'node:crypto';
import type { DepsFor } from '../deps';
import { publishChanges } from '../events';
import type { CallbackEvent, Delivery, NotifyMessage } from '../messages';
import { type CallbackAttempt, type CallbackChain, isFinal, type Task } from '../task';
import { isEndChange, type TaskChange } from '../task/change';
import { type SignedResults, signResults, toRecord } from '../task/record';
import { refuseUrl, UrlRefusedError } from '../url-guard';
import { signCallback, signStandardWebhook } from '../webhook-signatures';

export { signCallback, signStandardWebhook, verifyWebhook } from '../webhook-signatures';

/** What the notifier uses. */
export type NotifyDeps = DepsFor<
  | 'tasks'
  | 'apiKeys'
  | 'queues'
  | 'videos'
  | 'callbacks'
  | 'events'
  | 'taskTokens'
  | 'settings'
  | 'log'
  | 'metrics'
  | 'now'
>;

/**
 * Stage notify: one notify message. A change's message (the outbox of core/task/move.ts, submit and the
 * renditions) is published as an event and, for an end, answers the task's Step Functions token; then the
 * client's callback, where the change has one (a generation's end, a rendition's end). A publishing
 * failure throws before the callback: SQS delivers the message again (then its DLQ), and the callback's
 * retry chain drops any second attempt, so the callback is still made once.
 */
export async function notify(
  deps: NotifyDeps,
  message: NotifyMessage,
  delivery: Delivery = { redelivered: false },
): Promise<void> {
  const { change } = message;
  if (change) {
    await answerTaskToken(deps, change);
    // With the changes carried along (the submit's `queued`), first: one publish for all of them.
    const changes = [...(message.earlier ?? []), change];
    await publishChanges(deps, changes);
    // A queued or submitted change has no callback to make.
    if (!isEndChange(change.type) && !change.rendition) return;
  }
  await deliverCallback(deps, message, delivery);
}

/** SendTaskSuccess with the record, or SendTaskFailure with kie's error, when the ended task carries a token. */
async function answerTaskToken(deps: NotifyDeps, { type, task }: TaskChange): Promise<void> {
  if (!isEndChange(type) || !task.taskToken) return;
  const record = toRecord(task, await signResults(deps, task));
  if (record.successFlag === 1) return deps.taskTokens.succeed(task.taskToken, record);
  await deps.taskTokens.fail(
    task.taskToken,
    `Veo.${record.errorCode ?? 501}`,
    record.errorMessage ?? 'Generation failed',
  );
}

/** The kie-shaped body of a generation's callback (SPEC §3). */
export function callbackBody(task: Task, signed: SignedResults) {
  const record = toRecord(task, signed);
  if (record.successFlag === 1) {
    return {
      code: 200,
      msg: 'Veo3.1 video generated successfully.',
      data: {
        taskId: task.taskId,
        info: {
          resultUrls: record.response?.resultUrls ?? [],
          originUrls: record.response?.originUrls ?? [],
          resolution: record.response?.resolution ?? '720p',
        },
        fallbackFlag: false,
      },
    };
  }
  return {
    code: record.errorCode ?? 501,
    msg: record.errorMessage ?? 'Generation failed',
    data: { taskId: task.taskId, fallbackFlag: false },
  };
}

/** What one kind of callback needs: where it goes, what it says, and the name of its retry chain. */
export interface CallbackKind {
  /**
   * Names the callback among the task's: its retry chain (`Task.callbackChains`) and, after the taskId,
   * its `webhook-id`, which stays the same across retries.
   */
  key(message: NotifyMessage): string;
  /** The callBackUrl, once the task has something to tell for this event; undefined: no callback. */
  url(task: Task, message: NotifyMessage): string | undefined;
  body(deps: DepsFor<'videos'>, task: Task, message: NotifyMessage): Promise<unknown>;
}

/** One entry per NotifyMessage event: the only place that knows what each callback says. */
export const callbackKinds: Record<CallbackEvent, CallbackKind> = {
  generation: {
    key: () => 'generation',
    url: (task) => (isFinal(task.status) ? task.request.callBackUrl : undefined),
    body: async (deps, task) => callbackBody(task, await signResults(deps, task)),
  },
  '4k': {
    key: (message) => message.rendition ?? '4k',
    url: (task, message) => {
      const job = message.rendition && task.renditions?.[message.rendition];
      return job && job.status !== 'processing' ? job.callBackUrl : undefined;
    },
    body: async (deps, task, message) => {
      const job = message.rendition && task.renditions?.[message.rendition];
      if (job && job.status === 'ready' && job.key) {
        const resultUrls = [await deps.videos.url(job.key)];
        return {
          code: 200,
          msg: '4K Video generated successfully.',
          data: { taskId: task.taskId, info: { resultUrls } },
        };
      }
      return {
        code: 500,
        msg: `4K video generation failed: ${job ? job.error : 'unknown rendition'}`,
        data: { taskId: task.taskId },
      };
    },
  },
};

/**
 * Notifier: POSTs one signed callback attempt and records it on the task.
 *
 * A non-2xx answer (a 3xx included: redirects are not followed), a timeout or a connection error is
 * retried through the notify queue after the next wait of `settings.callbackRetrySeconds`, with the
 * message's `attempt` one higher; once the schedule is used up a closing "gave up" entry is recorded.
 * A refused address is recorded and not retried. Nothing is thrown for the receiver's failures: only our
 * own dependencies (DynamoDB, SQS, S3) throw, and then SQS delivers the same message again.
 *
 * Each callback's retry chain is kept on the task (`callbackChains`): only the message whose attempt and
 * token match it may go on, and the attempt is recorded with a conditional write on that match, so a
 * duplicated or redelivered message is dropped instead of starting a second chain. The next message is
 * sent before the attempt is recorded: if recording fails, the redelivered message makes the attempt again
 * and the orphaned next message no longer matches.
 *
 * The first delivery of a generation's end takes the task from the change it carries (knownEnd) and the
 * key from `deps.apiKeys` (cached in the notifier): no read (issue 17: a call fewer per task). Any other
 * message reads the task and its key in one round trip.
 */
export async function deliverCallback(
  deps: NotifyDeps,
  message: NotifyMessage,
  delivery: Delivery = { redelivered: false },
): Promise<void> {
  const { taskId } = message;
  const kind = callbackKinds[message.event];
  const known = knownEnd(message, delivery);
  const read = !known && message.keyHash ? await deps.tasks.getWithOwner(taskId, message.keyHash) : undefined;
  const task = known ?? (read ? read.task : await deps.tasks.get(taskId));
  const url = task && kind.url(task, message);
  if (!task || !url) return;

  const key = kind.key(message);
  const attempt = message.attempt ?? 0;
  const chain = task.callbackChains?.[key];
  const live = chain
    ? chain.next !== undefined && chain.next === message.token && chain.attempts === attempt
    : attempt === 0 && message.token === undefined;
  if (!live) {
    deps.log.info('callback message dropped: its chain has moved on', { key, attempt });
    return;
  }
  const wait = (message.notBefore ?? 0) - deps.now();
  if (wait > 1000) {
    await deps.queues.notify(message, Math.ceil(wait / 1000)); // the rest of a wait over SQS's maximum
    return;
  }

  const at = deps.now();
  const entry = (outcome: { status: number } | { error: string }): CallbackAttempt => ({
    at,
    event: message.event,
    attempt: attempt + 1,
    ...outcome,
  });
  const end = (...entries: CallbackAttempt[]) =>
    record(deps, message, key, chain, entries, { attempts: attempt + 1 });

  const refused = refuseUrl(url, deps.settings.urlPolicy);
  if (refused) return end(entry({ error: `callBackUrl ${refused}` }));
  const apiKey = read && message.keyHash === task.keyHash ? read.owner : await deps.apiKeys.get(task.keyHash);
  if (!apiKey) return end(entry({ error: "not sent: the task's API key no longer exists" }));

  const body = JSON.stringify(await kind.body(deps, task, message));
  const timestamp = Math.floor(at / 1000);
  const id = webhookId(taskId, key);
  const headers = {
    'content-type': 'application/json',
    'x-webhook-timestamp': String(timestamp),
    'x-webhook-signature': signCallback(apiKey.webhookSecret, taskId, timestamp),
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signStandardWebhook(apiKey.webhookSecret, id, timestamp, body),
  };

  let outcome: { status: number } | { error: string };
  try {
    outcome = { status: await deps.callbacks.send({ url, body, headers }) };
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    // An address refused after DNS resolution will not become acceptable by retrying.
    if (error instanceof UrlRefusedError) return end(entry({ error: text }));
    outcome = { error: text };
  }
  if ('status' in outcome && outcome.status >= 200 && outcome.status < 300) {
    await end(entry(outcome));
    deps.log.info('callback delivered', { key, attempt: attempt + 1 });
    return;
  }

  deps.metrics.count('CallbackFailures', {}, { event: message.event });
  const delay = deps.settings.callbackRetrySeconds[attempt];
  if (delay === undefined) {
    const gaveUp = { at: deps.now(), event: message.event, error: `gave up after ${attempt + 1} attempts` };
    deps.log.warn('callback not taken, retries used up', { key, ...outcome });
    return end(entry(outcome), gaveUp);
  }
  const next: NotifyMessage = {
    taskId,
    keyHash: task.keyHash,
    event: message.event,
    attempt: attempt + 1,
    token: randomUUID(),
    notBefore: deps.now() + delay * 1000,
  };
  await deps.queues.notify(next, delay);
  deps.log.info('callback not taken, retry scheduled', {
    key,
    attempt: attempt + 1,
    delay,
    ...outcome,
  });
  await record(deps, message, key, chain, [entry(outcome)], { attempts: attempt + 1, next: next.token });
}

/**
 * The ended task as the end's move wrote it, when the message may be trusted to carry it: the first
 * delivery of the end's own message, whose callback no attempt has started (the move's copy has no chain
 * for it). A redelivery, a retry or a redriven message reads: an attempt may have been made and recorded
 * since. A rendition's end reads too (rare; its job's state is what the callback tells).
 */
function knownEnd(message: NotifyMessage, delivery: Delivery): Task | undefined {
  const { change } = message;
  if (delivery.redelivered || message.redriven !== undefined || message.attempt || message.token) return;
  if (!change || !isEndChange(change.type) || change.rendition || message.event !== 'generation') return;
  if (change.task.taskId !== message.taskId || change.task.callbackChains?.generation) return;
  return change.task;
}

/** `webhook-id`: the same for every attempt of one callback, so receivers can deduplicate on it. */
export function webhookId(taskId: string, key: string): string {
  return `msg_${taskId}_${key}`;
}

/** Records the attempt and moves the chain on, unless a parallel delivery of the same message did first. */
async function record(
  deps: NotifyDeps,
  message: NotifyMessage,
  key: string,
  from: CallbackChain | undefined,
  entries: CallbackAttempt[],
  to: CallbackChain,
): Promise<void> {
  if (await deps.tasks.recordCallback(message.taskId, entries, { key, from, to })) return;
  // Lost to a parallel delivery of the same message: keep the chain it started, but our POST happened too.
  deps.log.warn('callback message delivered twice at once; the other one goes on', {
    key,
  });
  await deps.tasks.recordCallback(
    message.taskId,
    entries.filter((e) => e.attempt !== undefined),
  );
}
