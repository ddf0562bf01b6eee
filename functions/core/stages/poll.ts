import type { DepsFor } from '../deps';
import { failureMessages, UpstreamUnavailableError } from '../errors';
import type { Delivery, PollMessage } from '../messages';
import {
  capabilityRequestOfTask,
  checkOn,
  pinnedUpstream,
  poolOf,
  providerOf,
  recordUnavailable,
  upstreamField,
} from '../pool';
import type { OperationStatus } from '../ports';
import { type MoveDeps, type MovePatch, moveTask, notifyEnd } from '../task/move';
import type { StoredVideo, Task } from '../task/task';
import { isFinal } from '../task/transitions';
import { reason } from './generate';
import { generationTimes, pollDelaySeconds, shapeOf } from './poll-schedule';
import { awaitsPush } from './sweep';

/** How soon a poll asks again when the push it came from was ahead of the upstream's own status. */
const pushedEarlyRetrySeconds = 2;

export { pollDelaySeconds } from './poll-schedule';

/** What the poll stage (the poller) uses. */
export type PollDeps = MoveDeps &
  DepsFor<'provider' | 'upstreamProviders' | 'circuits' | 'settings' | 'videos' | 'watermarker'>;

/** Stage poll (queue `poll`, run by the poller): ask the upstream; when done, store the videos and complete the task. */
export async function pollGeneration(
  deps: PollDeps,
  message: PollMessage,
  delivery: Delivery = { redelivered: false },
): Promise<void> {
  const polls = (message.polls ?? 0) + 1;
  const { taskId, operation, deadlineAt, submittedAt, upstream } = message;
  // Ended here already (a scheduled poll after a push's poll ended it): nothing to ask, nothing to read.
  // A redelivery still reads: it may be the message whose end's notify message did not go out.
  if (!delivery.redelivered && endedHere.has(deps.tasks, taskId)) return;
  // Known from the message, the upstream is asked first: a generation still running needs nothing from
  // the store (the usual answer, several times per task); only an ending answer reads the task.
  let answer: OperationStatus | undefined;
  // In a pool, the message must name the task's upstream (core/pool.ts) to be asked before the read.
  const knownUpstream = upstream !== undefined || !deps.settings.upstreams?.length;
  if (operation !== undefined && deadlineAt !== undefined && knownUpstream) {
    answer = await askUpstream(deps, upstream, operation);
    if (answer.state === 'pending' && deps.now() < deadlineAt) {
      const since = submittedAt ?? deps.now() - polls * deps.settings.pollIntervalSeconds * 1000;
      const { shape } = message;
      await deps.queues.poll(
        {
          taskId,
          polls,
          operation,
          deadlineAt,
          submittedAt: since,
          shape,
          ...upstreamField(deps.settings, upstream),
        },
        pollDelaySeconds(deps.settings, deps.now() - since, generationTimes.range(shape)),
      );
      return;
    }
  }
  const task = await deps.tasks.get(taskId);
  if (!task) return;
  if (isFinal(task.status)) {
    endedHere.add(deps.tasks, taskId);
    // Only a redelivery may be the message that ended the task and crashed before its notify message went
    // out; a first delivery is another chain's poll (after a push or the sweeper ended it): notifying
    // again would answer a Step Functions token twice.
    if (delivery.redelivered && !task.callbackChains?.generation) await notifyEnd(deps, task);
    return;
  }
  if (task.status === 'submitting' && deps.now() < task.deadlineAt) {
    // A push ahead of the worker's move to submitted (a fast upstream, a slow write): look again in a
    // second, as the task awaits this push and no poll is scheduled (a dead worker's task ends meanwhile).
    await deps.queues.poll({ taskId, polls, ...(message.pushed && { pushed: true }) }, 1);
    return;
  }
  if (task.status !== 'submitted' || !task.operation) return;
  const pinned = pinnedUpstream(task);
  const status =
    answer && operation === task.operation ? answer : await askUpstream(deps, pinned, task.operation);

  switch (status.state) {
    case 'pending': {
      if (deps.now() >= task.deadlineAt) {
        await endTask(deps, task, 'failed', {
          errorCode: 501,
          errorMessage: failureMessages.timedOut(deps.settings.budgetSeconds),
        });
        return;
      }
      // Without the message's time (a push, an older message), the submit's own write dates it.
      const since = submittedAt ?? task.updatedAt;
      const shape = shapeOf(task);
      const scheduled = pollDelaySeconds(deps.settings, deps.now() - since, generationTimes.range(shape));
      // A push said it ended, the upstream says not yet: the notice came first (Vertex AI's bucket notifies
      // when the video is written, perhaps before the operation is marked done). Polled on only by the
      // push's poll that takes the awaited push off the task, asking again soon, once, then on the
      // schedule; a later push, or one after the sweeper's push check started polling, adds no second chain.
      const pushedEarly = message.pushed === true;
      if (pushedEarly && !awaitsPush(task)) return;
      await deps.queues.poll(
        {
          taskId,
          polls,
          operation: task.operation,
          deadlineAt: task.deadlineAt,
          submittedAt: since,
          shape,
          ...upstreamField(deps.settings, task.upstream),
        },
        pushedEarly ? Math.min(scheduled, pushedEarlyRetrySeconds) : scheduled,
      );
      // After the send: a crash between the two sends again on redelivery (a duplicate, never a lost chain).
      if (pushedEarly) await deps.tasks.stopAwaitingPush(taskId, task.operation);
      return;
    }
    case 'rejected':
      await endTask(deps, task, 'rejected', {
        errorCode: 422,
        errorMessage: failureMessages.rejected(status.reason),
      });
      return;
    case 'failed':
      deps.metrics.count('UpstreamFailures', { upstream: pinnedUpstream(task) });
      if (await failOver(deps, task, status.reason)) return;
      await endTask(deps, task, 'failed', {
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
        // Ended, but its notify message did not go out: send it now, or fail the message (a redelivery).
        const ended = await deps.tasks.get(taskId);
        if (ended && isFinal(ended.status)) return notifyEnd(deps, ended);
        deps.log.warn('completion failed; polling again shortly', { error: reason(error) });
        await deps.queues.poll({ taskId, polls }, deps.settings.pollIntervalSeconds);
      }
      return;
  }
}

/**
 * FAILOVER_MID_GENERATION: a generation its upstream failed after accepting it goes back to the queue
 * for another upstream that can make it (never one it failed on). Off by default, as the first upstream
 * may bill it; never for a content rejection (the poll's `rejected`), nor for an extension (a kie one
 * needs its own account; a Google one is rare enough to end as before).
 */
async function failOver(deps: PollDeps, task: Task, failure: string): Promise<boolean> {
  if (!deps.settings.failoverMidGeneration || task.extendsTaskId) return false;
  const from = pinnedUpstream(task);
  const failedUpstreams = [...(task.failedUpstreams ?? []), from];
  const asking = capabilityRequestOfTask(task.request, false, task.aspectRatio);
  const elsewhere = poolOf(deps.settings).some(
    (upstream) => !failedUpstreams.includes(upstream.name) && checkOn(upstream, asking).ok,
  );
  if (!elsewhere || deps.now() >= task.deadlineAt) return false;
  const moved = await moveTask(deps, task, 'queued', { failedUpstreams });
  if (!moved) return true; // another writer moved it: nothing left to do here
  deps.log.warn('generation failed upstream; trying another', { upstream: from, reason: failure });
  await deps.queues.generate({ taskId: task.taskId });
  return true;
}

/**
 * The operation's status; an upstream that cannot be asked now counts as still running, and as one more
 * failure of its circuit (a pool's: `upstream` names it).
 */
async function askUpstream(
  deps: PollDeps,
  upstream: string | undefined,
  operation: string,
): Promise<OperationStatus> {
  try {
    return await providerOf(deps, upstream).poll(operation);
  } catch (error) {
    if (!(error instanceof UpstreamUnavailableError)) throw error;
    deps.log.warn('upstream unavailable while polling', { upstream, error: reason(error) });
    if (upstream !== undefined) await recordUnavailable(deps, upstream);
    return { state: 'pending' };
  }
}

async function complete(deps: PollDeps, task: Task, videos: string[]): Promise<void> {
  if (videos.length === 0) {
    await endTask(deps, task, 'rejected', {
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
    // From the upstream that made it: its credentials reach its videos.
    const download = await providerOf(deps, pinnedUpstream(task)).download(video);
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
  await endTask(deps, task, 'succeeded', { results });
}

/** moveTask to an end, remembered (`endedHere`) once written and its notify message sent. */
async function endTask(
  deps: PollDeps,
  task: Task,
  to: 'succeeded' | 'failed' | 'rejected',
  patch: MovePatch,
): Promise<void> {
  if (await moveTask(deps, task, to, patch)) endedHere.add(deps.tasks, task.taskId);
}

/**
 * The tasks this container's polls ended or found ended, per task store (one per container, one per test
 * world), so a later first delivery for one (a poll after a push's poll ended it: one the sweeper started
 * as the push came late, or a push delivered twice) costs neither an upstream poll nor a read (issue 17).
 * An end is final: what is kept never goes stale. The newest 1,000 per store.
 */
const endedHere = {
  sets: new WeakMap<object, Set<string>>(),
  limit: 1000,
  has(store: object, taskId: string): boolean {
    return this.sets.get(store)?.has(taskId) ?? false;
  },
  add(store: object, taskId: string): void {
    const set = this.sets.get(store) ?? new Set<string>();
    this.sets.set(store, set);
    set.add(taskId);
    // A Set iterates in insertion order: the first is the oldest.
    if (set.size > this.limit) set.delete(set.values().next().value as string);
  },
};
