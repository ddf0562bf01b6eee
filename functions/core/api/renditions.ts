import type { DepsFor } from '../deps';
import { errors, failureMessages, RateLimitedError, toKieError } from '../errors';
import type { ApiKey } from '../ports';
import { keyRateWindow, type RateWindow, withinRateWindow } from '../rate-window';
import { describeIssue, fourKRequestSchema, hdQuerySchema } from '../schema';
import { type RenditionJob, type RenditionResolution, renditionSlot, type Task } from '../task/task';
import { cachedSchema } from './schema-cache';

const fourKSchema = cachedSchema(fourKRequestSchema);

/**
 * The 1080p and 4K renditions (SPEC §2): a higher-resolution copy of a finished video, made once per
 * task and video by the poller and cached in S3. The slot is claimed with a conditional write, so
 * concurrent requests never make it twice; a failed one may be asked for again.
 */

/** What the API's rendition requests use. */
export type RenditionRequestDeps = DepsFor<'tasks' | 'videos' | 'queues' | 'settings' | 'log' | 'now'>;

/** GET /veo/get-1080p-video: the URL once ready; until then 400 "processing" (the first call starts it). */
export async function request1080p(
  deps: RenditionRequestDeps,
  key: ApiKey,
  query: Record<string, string | undefined>,
) {
  const parsed = hdQuerySchema.safeParse(query);
  if (!parsed.success) throw errors.validation(describeIssue(parsed.error));
  const { taskId, index } = parsed.data;
  deps.log.appendKeys({ taskId });
  const task = await finishedTask(deps, key, taskId, index);
  // Made at 1080p by the upstream: that file, at once (both ratios; kie.ai allows 9:16 since 2026).
  const native = await nativeUrl(deps, task, '1080p', index);
  if (native) return { resultUrl: native };
  if (!deps.settings.ffmpegAvailable) throw errors.renditionsDisabled();

  const job = task.renditions?.[renditionSlot('1080p', index)];
  if (job?.status === 'ready' && job.key) return { resultUrl: await deps.videos.url(job.key) };
  if (job?.status !== 'processing') await start(deps, task, '1080p', index);
  throw errors.processing1080p();
}

/** POST /veo/get-4k-video: starts the 4K rendition and answers at once; a callback follows when it is ready. */
export async function request4k(deps: RenditionRequestDeps, key: ApiKey, body: unknown) {
  const parsed = fourKSchema(deps.settings.urlPolicy).safeParse(body);
  if (!parsed.success) throw errors.validation(describeIssue(parsed.error));
  const { taskId, index, callBackUrl } = parsed.data;
  deps.log.appendKeys({ taskId });
  const task = await finishedTask(deps, key, taskId, index);
  // Made at 4K by the upstream (and charged so at generation): that file, at once, nothing more to pay.
  const native = await nativeUrl(deps, task, '4k', index);
  if (native) return { taskId, resultUrls: [native], imageUrls: null };
  if (!deps.settings.ffmpegAvailable) throw errors.renditionsDisabled();

  const job = task.renditions?.[renditionSlot('4k', index)];
  if (job?.status === 'processing') throw errors.processing4k();
  if (job?.status === 'ready' && job.key) {
    throw errors.done4k(taskId, [await deps.videos.url(job.key)]);
  }
  // A 4K rendition is new, charged work: it takes a slot of the key's rate limit like a new task, in the
  // same transaction that claims and charges it.
  const rate = keyRateWindow(key, deps.settings.rateLimit);
  if (!(await withinRateWindow(rate, () => start(deps, task, '4k', index, callBackUrl, rate)))) {
    // Another request claimed the slot a moment ago.
    throw errors.processing4k();
  }
  return { taskId, resultUrls: null as string[] | null, imageUrls: null };
}

async function finishedTask(
  deps: RenditionRequestDeps,
  key: ApiKey,
  taskId: string,
  index: number,
): Promise<Task> {
  const task = await deps.tasks.get(taskId);
  if (!task || task.keyHash !== key.keyHash) throw errors.recordNull();
  if (task.status !== 'succeeded') throw errors.notSucceeded();
  if (index >= (task.results?.length ?? 0))
    throw errors.validation(`index must be below ${task.results?.length ?? 0}`);
  return task;
}

/** The URL of the task's own video when the upstream made it at `resolution` (record-info: `native`). */
async function nativeUrl(
  deps: RenditionRequestDeps,
  task: Task,
  resolution: RenditionResolution,
  index: number,
): Promise<string | undefined> {
  const video = task.results?.[index];
  return video?.resolution === resolution ? deps.videos.url(video.key) : undefined;
}

/**
 * Claims the slot (charging for 4K, taking a slot of `rate` when given) and queues the work; false when
 * another request holds the slot.
 */
async function start(
  deps: RenditionRequestDeps,
  task: Task,
  resolution: RenditionResolution,
  index: number,
  callBackUrl?: string,
  rate?: RateWindow,
): Promise<boolean> {
  const credits = resolution === '4k' ? deps.settings.price4k : 0;
  const job: RenditionJob = {
    resolution,
    index,
    status: 'processing',
    requestedAt: deps.now(),
    // Past this, the sweeper ends it (failed, refunded) if the poller never finished it.
    deadlineAt: deps.now() + deps.settings.renditionBudgetSeconds * 1000,
    credits,
    callBackUrl,
  };
  const slot = renditionSlot(resolution, index);
  let claimed: boolean;
  try {
    claimed = await deps.tasks.startRendition(
      task.taskId,
      slot,
      job,
      { keyHash: task.keyHash, credits },
      rate,
    );
  } catch (error) {
    if (error instanceof RateLimitedError) throw error; // withinRateWindow answers it
    throw toKieError(error, { charge: credits });
  }
  if (claimed) {
    deps.log.info('rendition requested', { slot, credits });
    try {
      await deps.queues.poll({ taskId: task.taskId, rendition: slot }, 0);
    } catch (error) {
      // Charged and queued are one outcome: without its message the job would stay "processing"
      // forever. Fail it and refund in one write; a failed slot may be asked for again.
      await deps.tasks.finishRendition(
        task.taskId,
        slot,
        { status: 'failed', completedAt: deps.now(), error: failureMessages.queueUnavailable },
        { keyHash: task.keyHash, credits },
      );
      throw error;
    }
  }
  return claimed;
}
