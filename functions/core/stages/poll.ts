import type { DepsFor } from '../deps';
import { failureMessages, UpstreamUnavailableError } from '../errors';
import type { PollMessage } from '../messages';
import type { OperationStatus } from '../ports';
import { type MoveDeps, moveTask, notifyEnd } from '../task/move';
import type { StoredVideo, Task } from '../task/task';
import { isFinal } from '../task/transitions';
import { reason } from './generate';
import { generationTimes, pollDelaySeconds, shapeOf } from './poll-schedule';

export { pollDelaySeconds } from './poll-schedule';

/** What the poll stage (the poller) uses. */
export type PollDeps = MoveDeps & DepsFor<'provider' | 'settings' | 'videos' | 'watermarker'>;

/** Stage poll (queue `poll`, run by the poller): ask the upstream; when done, store the videos and complete the task. */
export async function pollGeneration(deps: PollDeps, message: PollMessage): Promise<void> {
  const polls = (message.polls ?? 0) + 1;
  const { taskId, operation, deadlineAt, submittedAt } = message;
  // Known from the message, the upstream is asked first: a generation still running needs nothing from
  // the store (the usual answer, several times per task); only an ending answer reads the task.
  let answer: OperationStatus | undefined;
  if (operation !== undefined && deadlineAt !== undefined) {
    answer = await askUpstream(deps, operation);
    if (answer.state === 'pending' && deps.now() < deadlineAt) {
      const since = submittedAt ?? deps.now() - polls * deps.settings.pollIntervalSeconds * 1000;
      const { shape } = message;
      await deps.queues.poll(
        { taskId, polls, operation, deadlineAt, submittedAt: since, shape },
        pollDelaySeconds(deps.settings, deps.now() - since, generationTimes.range(shape)),
      );
      return;
    }
  }
  const task = await deps.tasks.get(taskId);
  if (!task) return;
  if (isFinal(task.status)) {
    // A redelivery after the task ended: the notify message may not have gone out before a crash.
    if (!task.callbackChains?.generation) await notifyEnd(deps, task);
    return;
  }
  if (task.status !== 'submitted' || !task.operation) return;
  const status = answer && operation === task.operation ? answer : await askUpstream(deps, task.operation);

  switch (status.state) {
    case 'pending': {
      if (deps.now() >= task.deadlineAt) {
        await moveTask(deps, task, 'failed', {
          errorCode: 501,
          errorMessage: failureMessages.timedOut(deps.settings.budgetSeconds),
        });
        return;
      }
      // Without the message's time (a push, an older message), the submit's own write dates it.
      const since = submittedAt ?? task.updatedAt;
      const shape = shapeOf(task);
      await deps.queues.poll(
        { taskId, polls, operation: task.operation, deadlineAt: task.deadlineAt, submittedAt: since, shape },
        pollDelaySeconds(deps.settings, deps.now() - since, generationTimes.range(shape)),
      );
      return;
    }
    case 'rejected':
      await moveTask(deps, task, 'rejected', {
        errorCode: 422,
        errorMessage: failureMessages.rejected(status.reason),
      });
      return;
    case 'failed':
      await moveTask(deps, task, 'failed', {
        errorCode: 501,
        errorMessage: failureMessages.upstreamFailed(status.reason),
      });
      return;
    case 'done':
      try {
        await complete(deps, task, status.videos);
        // How long this kind of video took (to when we noticed): the schedule of the next ones.
        if (submittedAt !== undefined) generationTimes.observe(shapeOf(task), deps.now() - submittedAt);
      } catch (error) {
        // A transient store or download error must not wait out the poll queue's visibility (30 min):
        // ask again shortly, within the deadline (past it, the message's failure and the sweeper end it).
        if (deps.now() >= task.deadlineAt) throw error;
        deps.log.warn('completion failed; polling again shortly', { error: reason(error) });
        await deps.queues.poll({ taskId, polls }, deps.settings.pollIntervalSeconds);
      }
      return;
  }
}

/** The operation's status; an upstream that cannot be asked now counts as still running. */
async function askUpstream(deps: PollDeps, operation: string): Promise<OperationStatus> {
  try {
    return await deps.provider.poll(operation);
  } catch (error) {
    if (!(error instanceof UpstreamUnavailableError)) throw error;
    deps.log.warn('upstream unavailable while polling', { error: reason(error) });
    return { state: 'pending' };
  }
}

async function complete(deps: PollDeps, task: Task, videos: string[]): Promise<void> {
  if (videos.length === 0) {
    await moveTask(deps, task, 'rejected', {
      errorCode: 422,
      errorMessage: failureMessages.rejected('no video was returned'),
    });
    return;
  }
  const watermark = task.request.watermark;
  // Every video the upstream made (sampleCount), at the resolution asked of it.
  const resolution = task.asked?.resolution ?? '720p';
  const results: StoredVideo[] = [];
  for (const [index, video] of videos.entries()) {
    const download = await deps.provider.download(video);
    const key = `videos/${task.taskId}/${index}.mp4`;
    if (!watermark) {
      await deps.videos.put(key, download.body, download.contentType);
      results.push({ key, originKey: key, resolution });
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
    results.push({ key, originKey, resolution });
  }
  await moveTask(deps, task, 'succeeded', { results });
}
