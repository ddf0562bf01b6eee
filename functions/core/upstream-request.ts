import { buffer } from 'node:stream/consumers';
import type { DepsFor } from './deps';
import { ImageRejectedError, InputRejectedError } from './errors';
import type { SourceImage, UpstreamRequest } from './ports';
import type { ConcreteAspectRatio } from './schema';
import type { Task } from './task/task';
import { veoOptionKeys } from './veo-options';

/** What preparing an upstream request uses (the worker). */
export type UpstreamRequestDeps = DepsFor<
  'images' | 'cropper' | 'translator' | 'settings' | 'tasks' | 'videos'
>;

/** Fetches the images, resolves Auto from the first one (centre-cropping them to it), translates the prompt. */
export async function upstreamRequest(
  deps: UpstreamRequestDeps,
  task: Task,
): Promise<{ request: UpstreamRequest; translatedFrom?: string }> {
  const { request } = task;
  let images = await fetchImages(deps, request.imageUrls);
  let aspectRatio: ConcreteAspectRatio = task.aspectRatio === '9:16' ? '9:16' : '16:9';
  const first = images[0];
  if (task.aspectRatio === 'Auto' && first) {
    aspectRatio = closerAspectRatio(first.width, first.height);
    images = await Promise.all(
      images.map((image, index) =>
        deps.cropper.crop(image, aspectRatio).catch((error: unknown) => {
          if (error instanceof ImageRejectedError)
            throw new ImageRejectedError(`imageUrls[${index}] ${error.message}`);
          throw error;
        }),
      ),
    );
  }
  let prompt = request.prompt;
  let translatedFrom: string | undefined;
  if (request.enableTranslation) {
    const translation = await deps.translator.toEnglish(request.prompt);
    // Offline there is no translation service: the prompt goes as written and nothing is recorded.
    if (translation.sourceLanguage !== 'en' && translation.text !== request.prompt) {
      prompt = translation.text;
      translatedFrom = translation.sourceLanguage;
    }
  }
  const upstream: UpstreamRequest = {
    taskId: task.taskId,
    prompt,
    model: request.model,
    generationType: request.generationType,
    aspectRatio,
    seed: task.seeds,
    imageUrls: request.imageUrls,
    images,
    pushUrl: deps.settings.pushUrl
      ? `${deps.settings.pushUrl}?taskId=${encodeURIComponent(task.taskId)}`
      : undefined,
  };
  // Veo 3.1's options as the client gave them (checked at submit); one the upstream does not apply stays out.
  const skipped = new Set(task.notApplied ?? []);
  for (const field of veoOptionKeys) {
    if (request[field] !== undefined && !skipped.has(field))
      Object.assign(upstream, { [field]: request[field] });
  }
  if (task.extendsTaskId) upstream.extend = await videoToExtend(deps, task.extendsTaskId);
  return { request: upstream, translatedFrom };
}

/**
 * Fetches a task's images side by side, so they share one deadline (the fetcher's timeout) instead of
 * adding theirs up; the first refusal names its image and stops the others' downloads.
 */
async function fetchImages(deps: DepsFor<'images'>, urls: readonly string[]): Promise<SourceImage[]> {
  const stop = new AbortController();
  try {
    return await Promise.all(
      urls.map((url, index) =>
        deps.images.fetch(url, stop.signal).catch((error: unknown) => {
          stop.abort(error);
          if (error instanceof ImageRejectedError)
            throw new ImageRejectedError(`imageUrls[${index}] ${error.message}`, { cause: error });
          throw error;
        }),
      ),
    );
  } finally {
    stop.abort();
  }
}

/** The source task's stored original (before any watermark): what Veo continues. */
async function videoToExtend(
  deps: DepsFor<'tasks' | 'videos'>,
  sourceTaskId: string,
): Promise<UpstreamRequest['extend']> {
  const source = await deps.tasks.get(sourceTaskId);
  const result = source?.results?.[0];
  if (!source || !result)
    throw new InputRejectedError(`taskId ${sourceTaskId} has no video to extend any more`);
  // Google's APIs take the video inline, so it is read whole; Veo's videos are a few MB.
  return {
    video: { bytes: await buffer(await deps.videos.open(result.originKey)), mimeType: 'video/mp4' },
    sourceOperation: source.operation,
  };
}

/** The ratio nearer to the image's shape, compared on a log scale so 16:9 and 9:16 are symmetric. */
export function closerAspectRatio(width: number, height: number): ConcreteAspectRatio {
  const shape = Math.log(width / height);
  return Math.abs(shape - Math.log(16 / 9)) <= Math.abs(shape - Math.log(9 / 16)) ? '16:9' : '9:16';
}
