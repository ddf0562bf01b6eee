import type { DepsFor } from '../deps';
import type { NotifyMessage, PollMessage } from '../messages';
import type { RenditionJob, RenditionResolution, RenditionSlot, Task } from '../task/task';

/** What the poller's rendition work uses. */
export type RenditionWorkDeps = DepsFor<'tasks' | 'videos' | 'upscaler' | 'queues' | 'log' | 'now'>;

const sizes: Record<RenditionResolution, Record<'16:9' | '9:16', [number, number] | undefined>> = {
  '1080p': { '16:9': [1920, 1080], '9:16': [1080, 1920] },
  '4k': { '16:9': [3840, 2160], '9:16': [2160, 3840] },
};

/**
 * Stage renditions (queue `poll`, run by the poller, which owns the stored videos): make the 1080p or 4K
 * rendition from the stored video, store it, mark it ready (or failed and refunded). The API's requests
 * that start one are core/api/renditions.ts.
 */
export async function makeRendition(
  deps: RenditionWorkDeps,
  message: Required<Pick<PollMessage, 'taskId' | 'rendition'>>,
) {
  const task = await deps.tasks.get(message.taskId);
  const slot = message.rendition;
  const job = task?.renditions?.[slot];
  const source = task?.results?.[job?.index ?? 0];
  if (!task || !job || job.status !== 'processing' || !source) return; // done already, or gone

  const size = sizes[job.resolution][task.aspectRatio === '9:16' ? '9:16' : '16:9'];
  const key = `videos/${task.taskId}/${job.index}-${job.resolution}.mp4`;
  try {
    if (!size) throw new Error(`no ${job.resolution} size for ${task.aspectRatio}`);
    const upscaled = await deps.upscaler.upscale(await deps.videos.open(source.key), size[0], size[1]);
    try {
      await deps.videos.put(key, upscaled, 'video/mp4');
    } finally {
      upscaled.destroy();
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    deps.log.error('rendition failed', { slot, error: reason });
    await failRendition(deps, task, slot, reason);
    return;
  }
  const end = { status: 'ready', key, completedAt: deps.now() } as const;
  const ready = await deps.tasks.finishRendition(task.taskId, slot, end);
  if (!ready) return;
  deps.log.info('rendition ready', { slot });
  await deps.queues.notify(renditionEnd(task, slot, { ...job, ...end }));
}

/** The one notify message of a rendition's end: its event, and its 4K callback when one was asked for. */
function renditionEnd(task: Task, slot: RenditionSlot, job: RenditionJob): NotifyMessage {
  const written: Task = { ...task, renditions: { ...task.renditions, [slot]: job } };
  const type = job.status === 'ready' ? 'renditionReady' : 'renditionFailed';
  return {
    taskId: task.taskId,
    keyHash: task.keyHash,
    event: '4k',
    rendition: slot,
    change: { type, at: job.completedAt ?? 0, task: written, rendition: slot },
  };
}

/**
 * Ends a processing rendition as failed, refunding its credits in the same write, and calls the client
 * back (its event, and its 4K callback when one was asked for); false when it was not processing any
 * more (another writer ended it).
 */
export async function failRendition(
  deps: DepsFor<'tasks' | 'queues' | 'now'>,
  task: Task,
  slot: RenditionSlot,
  reason: string,
): Promise<boolean> {
  const job = task.renditions?.[slot];
  if (!job) return false;
  const end = { status: 'failed', completedAt: deps.now(), error: reason } as const;
  const failed = await deps.tasks.finishRendition(task.taskId, slot, end, {
    keyHash: task.keyHash,
    credits: job.credits,
  });
  if (failed) await deps.queues.notify(renditionEnd(task, slot, { ...job, ...end }));
  return failed;
}
