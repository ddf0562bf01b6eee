import type { DepsFor, Settings } from './deps';
import { failureMessages, InputRejectedError, RateLimitedError, UpstreamUnavailableError } from './errors';
import type { GenerateMessage, PollMessage } from './messages';
import type { OperationStatus } from './ports';
import { isFinal, type Rendition, type Task, type TaskStatus } from './task';
import { type UpstreamRequestDeps, upstreamRequest } from './upstream-request';

/** What every step that may end a task uses. */
type StepDeps = DepsFor<'tasks' | 'queues' | 'provider' | 'settings' | 'log' | 'metrics' | 'now'>;
/** What the worker uses. */
export type WorkerDeps = StepDeps & UpstreamRequestDeps;
/** What the poller's generation steps use. */
export type PollerDeps = StepDeps & DepsFor<'videos' | 'watermarker'>;
/** What an upstream push uses. */
export type PushDeps = DepsFor<'tasks' | 'provider' | 'queues' | 'log'>;

/**
 * The worker and poller steps of a generation. Each step reads the task, acts only if the task is
 * in the status the step expects, and moves it with a conditional write, so SQS redelivery is harmless.
 */

/** Worker: prepare the upstream request, take a slot of the upstream's quota, submit, schedule the first poll. */
export async function startGeneration(deps: WorkerDeps, message: GenerateMessage): Promise<void> {
  const task = await deps.tasks.get(message.taskId);
  if (!task) return;
  if (task.status === 'submitting') {
    // A worker died between recording the intent and recording the operation: the upstream may
    // have the task. Submitting again could generate (and bill) twice, so end it and refund.
    await finish(deps, task, 'failed', 500, failureMessages.interrupted);
    return;
  }
  if (task.status !== 'queued') return; // already started, finished, or gone: a redelivery

  const attempt = message.attempt ?? 0;
  const retryLater = async (reason: string, delayMs: number) => {
    if (deps.now() + delayMs >= task.deadlineAt) {
      await finish(deps, task, 'failed', 501, failureMessages.upstreamFailed(reason));
      return;
    }
    deps.log.warn('submit postponed', { taskId: task.taskId, reason, delayMs, attempt });
    await deps.queues.generate({ taskId: task.taskId, attempt: attempt + 1 }, Math.ceil(delayMs / 1000));
  };

  let prepared: Awaited<ReturnType<typeof upstreamRequest>>;
  try {
    prepared = await upstreamRequest(deps, task);
  } catch (error) {
    if (error instanceof InputRejectedError) {
      await finish(deps, task, 'failed', 422, error.message);
      return;
    }
    if (error instanceof UpstreamUnavailableError) return retryLater(error.message, backoffMs(attempt));
    throw error;
  }
  const { request, translatedFrom } = prepared;

  // The intent and a slot of the upstream's quota are written in one transaction, so nothing but the
  // request itself stands between taking the slot and the submit: slow writes cannot bunch submits past
  // the upstream's quota. Bursts wait in the queue for the quota instead of meeting its 429s.
  let claimed: boolean;
  try {
    claimed = await deps.tasks.transition(
      task.taskId,
      'queued',
      { status: 'submitting', updatedAt: deps.now() },
      undefined,
      deps.settings.upstreamQuota,
    );
  } catch (error) {
    if (!(error instanceof RateLimitedError)) throw error;
    return retryLater('waiting for the upstream quota', error.retryAfterMs);
  }
  if (!claimed) return;
  const stepBack = () =>
    deps.tasks.transition(task.taskId, 'submitting', { status: 'queued', updatedAt: deps.now() });

  let operation: string;
  try {
    operation = await deps.provider.submit(request);
  } catch (error) {
    if (error instanceof UpstreamUnavailableError) {
      // The upstream did not take it: step back so the retry may submit.
      await stepBack();
      return retryLater(error.message, backoffMs(attempt));
    }
    await finish(
      deps,
      { ...task, status: 'submitting' },
      'failed',
      501,
      failureMessages.upstreamFailed(reason(error)),
    );
    return;
  }

  const moved = await deps.tasks.transition(task.taskId, 'submitting', {
    status: 'submitted',
    operation,
    promptSent: request.prompt,
    translatedFrom,
    aspectRatio: request.aspectRatio,
    updatedAt: deps.now(),
  });
  if (!moved) return;
  deps.log.info('task submitted upstream', { taskId: task.taskId, provider: deps.provider.name, operation });
  await deps.queues.poll(
    { taskId: task.taskId, polls: 0, operation, deadlineAt: task.deadlineAt, submittedAt: deps.now() },
    deps.settings.pollIntervalSeconds,
  );
}

/** Poller: ask the upstream; when done, store the videos and complete the task. */
export async function pollGeneration(deps: PollerDeps, message: PollMessage): Promise<void> {
  const polls = (message.polls ?? 0) + 1;
  const { taskId, operation, deadlineAt, submittedAt } = message;
  // Known from the message, the upstream is asked first: a generation still running needs nothing from
  // the store (the usual answer, several times per task); only an ending answer reads the task.
  let answer: OperationStatus | undefined;
  if (operation !== undefined && deadlineAt !== undefined) {
    answer = await askUpstream(deps, taskId, operation);
    if (answer.state === 'pending' && deps.now() < deadlineAt) {
      const since = submittedAt ?? deps.now() - polls * deps.settings.pollIntervalSeconds * 1000;
      await deps.queues.poll(
        { taskId, polls, operation, deadlineAt, submittedAt: since },
        pollDelaySeconds(deps.settings, deps.now() - since),
      );
      return;
    }
  }
  const task = await deps.tasks.get(taskId);
  if (!task) return;
  if (isFinal(task.status)) {
    // A redelivery after the task ended: the notify message may not have gone out before a crash.
    if (!task.callbackChains?.generation) await notifyClient(deps, task);
    return;
  }
  if (task.status !== 'submitted' || !task.operation) return;
  const status =
    answer && operation === task.operation ? answer : await askUpstream(deps, taskId, task.operation);

  switch (status.state) {
    case 'pending': {
      if (deps.now() >= task.deadlineAt) {
        await finish(deps, task, 'failed', 501, failureMessages.timedOut(deps.settings.budgetSeconds));
        return;
      }
      // Without the message's time (a push, an older message), the submit's own write dates it.
      const since = submittedAt ?? task.updatedAt;
      await deps.queues.poll(
        { taskId, polls, operation: task.operation, deadlineAt: task.deadlineAt, submittedAt: since },
        pollDelaySeconds(deps.settings, deps.now() - since),
      );
      return;
    }
    case 'rejected':
      await finish(deps, task, 'rejected', 422, failureMessages.rejected(status.reason));
      return;
    case 'failed':
      await finish(deps, task, 'failed', 501, failureMessages.upstreamFailed(status.reason));
      return;
    case 'done':
      await complete(deps, task, status.videos);
      return;
  }
}

/** The operation's status; an upstream that cannot be asked now counts as still running. */
async function askUpstream(deps: PollerDeps, taskId: string, operation: string): Promise<OperationStatus> {
  try {
    return await deps.provider.poll(operation);
  } catch (error) {
    if (!(error instanceof UpstreamUnavailableError)) throw error;
    deps.log.warn('upstream unavailable while polling', { taskId, error: reason(error) });
    return { state: 'pending' };
  }
}

/**
 * The wait before asking again: a quarter of the time the generation has run so far, kept between half
 * and three times the first interval (5–30 s deployed). Veo takes 11 s to 6 minutes, so a finished
 * video is noticed within about a quarter of its own generation time: a short one within seconds, a long
 * one with few polls. (Modelled on 11 s – 6 min log-uniform: delay p50 5.5 s / p95 25 s with 8 polls,
 * against 15 s / 51 s with 4 for intervals growing ×1.5 from 10 s to 60 s; `npm run bench` measures it.)
 */
export function pollDelaySeconds(settings: Pick<Settings, 'pollIntervalSeconds'>, elapsedMs: number): number {
  const first = settings.pollIntervalSeconds;
  const quarter = Math.max(0, elapsedMs) / 4000;
  return Math.max(1, Math.round(Math.min(Math.max(quarter, first / 2), first * 3)));
}

/** Exponential backoff with full jitter: 2 s, 4 s, 8 s … capped at 2 minutes. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(2000 * 2 ** attempt, 120_000);
  return Math.max(1000, Math.round(random() * cap));
}

async function complete(deps: PollerDeps, task: Task, videos: string[]): Promise<void> {
  if (videos.length === 0) {
    await finish(deps, task, 'rejected', 422, failureMessages.rejected('no video was returned'));
    return;
  }
  const watermark = task.request.watermark;
  const results: Rendition[] = [];
  for (const [index, video] of videos.entries()) {
    const download = await deps.provider.download(video);
    const key = `videos/${task.taskId}/${index}.mp4`;
    if (!watermark) {
      await deps.videos.put(key, download.body, download.contentType);
      results.push({ key, originKey: key, resolution: '720p' });
      continue;
    }
    // Keep the unstamped original (originUrls), then stamp a copy read back from the store.
    const originKey = `videos/${task.taskId}/${index}-original.mp4`;
    await deps.videos.put(originKey, download.body, download.contentType);
    const stamped = await deps.watermarker.stamp(await deps.videos.open(originKey), watermark);
    try {
      await deps.videos.put(key, stamped, 'video/mp4');
    } finally {
      stamped.destroy(); // frees the watermarker's temp files even when the upload failed
    }
    results.push({ key, originKey, resolution: '720p' });
  }
  const now = deps.now();
  const moved = await deps.tasks.transition(task.taskId, 'submitted', {
    status: 'succeeded',
    results,
    completedAt: now,
    updatedAt: now,
  });
  if (!moved) return;
  deps.log.info('task succeeded', { taskId: task.taskId, videos: results.length, ms: now - task.createdAt });
  const dimensions = { model: task.request.model, provider: deps.provider.name };
  deps.metrics.count('TasksSucceeded', dimensions);
  deps.metrics.milliseconds('UpstreamLatency', now - task.createdAt, { provider: deps.provider.name });
  await notifyClient(deps, task);
}

/** Ends a task without a video: no video, no charge, so its credits go back to the key. */
async function finish(
  deps: StepDeps,
  task: Task,
  status: Extract<TaskStatus, 'failed' | 'rejected'>,
  errorCode: number,
  errorMessage: string,
): Promise<void> {
  const now = deps.now();
  const moved = await deps.tasks.transition(
    task.taskId,
    task.status,
    { status, errorCode, errorMessage, completedAt: now, updatedAt: now },
    { keyHash: task.keyHash, credits: task.credits },
  );
  if (!moved) return;
  deps.log.warn(`task ${status}`, { taskId: task.taskId, errorCode, errorMessage });
  // A rejection is the prompt or image refused by the upstream's policy: the client's doing, not an outage.
  const metric = status === 'failed' ? 'TasksFailed' : 'TasksRejected';
  deps.metrics.count(metric, { model: task.request.model, provider: deps.provider.name });
  await notifyClient(deps, task);
}

async function notifyClient(deps: DepsFor<'queues'>, task: Task): Promise<void> {
  if (task.request.callBackUrl) {
    await deps.queues.notify({ taskId: task.taskId, keyHash: task.keyHash, event: 'generation' });
  }
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Upstream push (kie.ai's callback): verified with the provider's signature, then only a hint to poll
 * now; the poller asks the upstream itself, so the push's body is never trusted.
 */
export async function acceptUpstreamPush(
  deps: PushDeps,
  taskId: string,
  headers: Record<string, string | undefined>,
): Promise<boolean> {
  const task = await deps.tasks.get(taskId);
  if (task?.status !== 'submitted' || !task.operation) return false;
  if (!(await deps.provider.verifyPush?.(task.operation, headers))) {
    deps.log.warn('upstream push refused', { taskId });
    return false;
  }
  await deps.queues.poll({ taskId }, 0);
  return true;
}
