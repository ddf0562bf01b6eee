import type { Deps } from '../deps';
import { successFlag, type Task } from './task';

/*
 * The task as kie.ai's record: what record-info answers, and what callbacks and task events carry. Apart
 * from the record-info route (core/api/record-info.ts), so that the stage functions that send it do not
 * build the api's request schemas (core/schema.ts) as they start.
 */

/** Presigned URLs of the task's videos and of their unstamped originals, signed anew on every read. */
export async function signResults(deps: Pick<Deps, 'videos'>, task: Task): Promise<SignedResults> {
  const results = task.results ?? [];
  const jobs = Object.values(task.renditions ?? {}).filter((job) => job !== undefined);
  const [resultUrls, originUrls, renditionUrls] = await Promise.all([
    Promise.all(results.map((r) => deps.videos.url(r.key))),
    Promise.all(results.map((r) => (r.originKey === r.key ? undefined : deps.videos.url(r.originKey)))),
    Promise.all(jobs.map((job) => (job.key ? deps.videos.url(job.key) : undefined))),
  ]);
  return {
    resultUrls,
    originUrls: originUrls.map((url, i) => url ?? resultUrls[i] ?? ''),
    renditions: jobs.map((job, i) => ({
      resolution: job.resolution,
      index: job.index,
      status: job.status,
      resultUrl: renditionUrls[i] ?? null,
      // A rendition job is always an upscale: a native file is the task's own video (response.videos).
      made: 'upscaled' as const,
    })),
  };
}

export interface SignedResults {
  resultUrls: string[];
  originUrls: string[];
  /** The 1080p and 4K renditions asked for so far. */
  renditions?: {
    resolution: string;
    index: number;
    status: string;
    resultUrl: string | null;
    /** How the file was made: upscaled by us from the task's video (native files are response.videos). */
    made: 'upscaled';
  }[];
}

export function toRecord(task: Task, { resultUrls, originUrls, renditions = [] }: SignedResults) {
  const flag = successFlag(task.status);
  const done = flag === 1;
  const failMsg = flag >= 2 ? (task.errorMessage ?? null) : null;
  return {
    taskId: task.taskId,
    paramJson: task.paramJson,
    createTime: task.createdAt,
    completeTime: task.completedAt ?? null,
    successFlag: flag,
    response: done
      ? {
          taskId: task.taskId,
          resultUrls,
          originUrls,
          // Veo's extension returns the whole video, the source and its continuation stitched together.
          fullResultUrls: task.extendsTaskId ? resultUrls : null,
          resolution: task.results?.[0]?.resolution ?? '720p',
          // Each stored video as the upstream made it (a rendition's own entry says `upscaled`).
          videos: (task.results ?? []).map((video) => ({
            resolution: video.resolution,
            made: 'native' as const,
          })),
        }
      : null,
    errorCode: flag >= 2 ? (task.errorCode ?? 501) : null,
    errorMessage: failMsg,
    fallbackFlag: false,
    state: (flag === 0 ? 'waiting' : done ? 'success' : 'fail') as 'waiting' | 'success' | 'fail',
    resultJson: done ? JSON.stringify({ resultUrls }) : null,
    failMsg,
    creditsConsumed: flag === 1 || flag === 0 ? task.credits : 0,
    model: task.request.model,
    generationType: task.extendsTaskId ? 'EXTEND' : task.request.generationType,
    extendsTaskId: task.extendsTaskId ?? null,
    aspectRatio: task.aspectRatio,
    seeds: task.seeds,
    promptSent: task.promptSent ?? null,
    translatedFrom: task.translatedFrom ?? null,
    /** The pool's upstream the task went to (null until it was submitted). */
    upstream: task.upstream ?? null,
    // What was asked (defaults filled in; a task from before issue 15 was 8 s 720p with audio, one video).
    resolution: task.asked?.resolution ?? '720p',
    duration: task.asked?.durationSeconds ?? 8,
    generateAudio: task.asked?.generateAudio ?? true,
    sampleCount: task.asked?.sampleCount ?? 1,
    notApplied: task.notApplied ?? [],
    renditions,
    callbacks: task.callbacks ?? [],
  };
}

export type TaskRecord = ReturnType<typeof toRecord>;
