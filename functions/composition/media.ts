import { findFfmpeg } from '../adapters/media/ffmpeg';
import { FfmpegUpscaler } from '../adapters/media/ffmpeg-upscaler';
import { FfmpegWatermarker } from '../adapters/media/ffmpeg-watermarker';
import { failureMessages, renditionMessages } from '../core/errors';
import type { VideoUpscaler, VideoWatermarker } from '../core/ports';

/** Submit refuses watermarks where ffmpeg is missing (FFMPEG_AVAILABLE), so the fallback is only a safety net. */
export function watermarker(timeoutMs: number): VideoWatermarker {
  const path = findFfmpeg(); // the layer's binary deployed, the npm one locally
  return path
    ? new FfmpegWatermarker({ ffmpegPath: path, timeoutMs })
    : { stamp: () => Promise.reject(new Error(failureMessages.watermarkDisabled)) };
}

/** The rendition endpoints answer 505 where ffmpeg is missing, so the fallback is only a safety net. */
export function upscaler(timeoutMs: number): VideoUpscaler {
  const path = findFfmpeg(); // the layer's binary deployed, the npm one locally
  return path
    ? new FfmpegUpscaler({ ffmpegPath: path, timeoutMs })
    : { upscale: () => Promise.reject(new Error(renditionMessages.disabled)) };
}
