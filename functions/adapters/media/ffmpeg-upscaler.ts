import type { Readable } from 'node:stream';
import type { VideoUpscaler } from '../../core/ports';
import { transcode } from './ffmpeg';

export interface FfmpegUpscalerOptions {
  ffmpegPath: string;
  tmpDir?: string;
  /** 4K encodes take a while on Lambda's CPUs. @default 600_000 */
  timeoutMs?: number;
}

/**
 * Makes the 1080p and 4K renditions: the same video scaled (Lanczos) to the target size, H.264, the audio
 * copied. The upstream is not asked again, so the rendition shows exactly the video the client has.
 */
export class FfmpegUpscaler implements VideoUpscaler {
  constructor(private readonly options: FfmpegUpscalerOptions) {}

  upscale(video: Readable, width: number, height: number): Promise<Readable> {
    return transcode(
      video,
      { ...this.options, timeoutMs: this.options.timeoutMs ?? 600_000, prefix: 'veo-rendition-' },
      ({ input, output }) => [
        ...['-i', input, '-map', '0:v:0', '-map', '0:a?', '-map_metadata', '0'],
        ...['-vf', `scale=${width}:${height}:flags=lanczos,setsar=1`],
        ...['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-pix_fmt', 'yuv420p'],
        ...['-c:a', 'copy', '-movflags', '+faststart', '-f', 'mp4', '-y', output],
      ],
    );
  }
}
