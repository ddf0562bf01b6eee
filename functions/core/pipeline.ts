import type { Deps } from './deps';
import { failureMessages } from './errors';
import {
  type GenerateMessage,
  type PollMessage,
  type UpstreamRequest,
  UpstreamUnavailableError,
} from './ports';
import { isFinal, type Rendition, type Task, type TaskStatus } from './task';

/**
 * The worker and poller steps of a generation. Each step reads the task, acts only if the task is
 * in the status the step expects, and moves it with a conditional write, so SQS redelivery is harmless.
 */

/** Worker: hand the task to the upstream and schedule the first poll. */
export async function startGeneration(deps: Deps, { taskId }: GenerateMessage): Promise<void> {
  const task = await deps.tasks.get(taskId);
  if (task?.status !== 'queued') return; // already started, finished, or gone: a redelivery

  const request = upstreamRequest(task);
  let operation: string;
  try {
    operation = await deps.provider.submit(request);
  } catch (error) {
    if (error instanceof UpstreamUnavailableError && deps.now() < task.deadlineAt) throw error; // SQS retries
    await finish(deps, task, 'failed', 501, failureMessages.upstreamFailed(reason(error)));
    return;
  }

  const moved = await deps.tasks.transition(taskId, 'queued', {
    status: 'submitted',
    operation,
    promptSent: request.prompt,
    aspectRatio: request.aspectRatio,
    updatedAt: deps.now(),
  });
  if (!moved) return;
  deps.log.info('task submitted upstream', { taskId, provider: deps.provider.name, operation });
  await deps.queues.poll({ taskId }, deps.settings.pollIntervalSeconds);
}

/** Poller: ask the upstream; when done, store the videos and complete the task. */
export async function pollGeneration(deps: Deps, { taskId }: PollMessage): Promise<void> {
  const task = await deps.tasks.get(taskId);
  if (!task) return;
  if (isFinal(task.status)) {
    // A redelivery after the task ended: the notify message may not have gone out before a crash.
    if (!task.callbacks?.length) await notifyClient(deps, task);
    return;
  }
  if (task.status !== 'submitted' || !task.operation) return;

  let status: Awaited<ReturnType<Deps['provider']['poll']>>;
  try {
    status = await deps.provider.poll(task.operation);
  } catch (error) {
    if (!(error instanceof UpstreamUnavailableError)) throw error;
    deps.log.warn('upstream unavailable while polling', { taskId, error: reason(error) });
    status = { state: 'pending' };
  }

  switch (status.state) {
    case 'pending':
      if (deps.now() >= task.deadlineAt) {
        await finish(deps, task, 'failed', 501, failureMessages.timedOut(deps.settings.budgetSeconds));
        return;
      }
      await deps.queues.poll({ taskId }, deps.settings.pollIntervalSeconds);
      return;
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

async function complete(deps: Deps, task: Task, videos: string[]): Promise<void> {
  if (videos.length === 0) {
    await finish(deps, task, 'rejected', 422, failureMessages.rejected('no video was returned'));
    return;
  }
  const results: Rendition[] = [];
  for (const [index, video] of videos.entries()) {
    const download = await deps.provider.download(video);
    const key = `videos/${task.taskId}/${index}.mp4`;
    await deps.videos.put(key, download.body, download.contentType);
    results.push({ key, resolution: '720p' });
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
  await notifyClient(deps, task);
}

/** Ends a task without a video: no video, no charge, so its credits go back to the key. */
async function finish(
  deps: Deps,
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
  await notifyClient(deps, task);
}

async function notifyClient(deps: Deps, task: Task): Promise<void> {
  if (task.request.callBackUrl) await deps.queues.notify({ taskId: task.taskId });
}

function upstreamRequest(task: Task): UpstreamRequest {
  return {
    taskId: task.taskId,
    prompt: task.request.prompt,
    model: task.request.model,
    generationType: task.request.generationType,
    // Choosing from the first image's shape needs the image itself; the provider work resolves it.
    aspectRatio: task.aspectRatio === '9:16' ? '9:16' : '16:9',
    seed: task.seeds,
    imageUrls: task.request.imageUrls,
    images: [],
  };
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Upstream push (e.g. kie.ai's callback): only a hint to poll now; the poller verifies with the upstream. */
export async function acceptUpstreamPush(deps: Deps, taskId: string): Promise<boolean> {
  const task = await deps.tasks.get(taskId);
  if (task?.status !== 'submitted') return false;
  await deps.queues.poll({ taskId }, 0);
  return true;
}
