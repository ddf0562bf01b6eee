import type { Readable } from 'node:stream';

/** Stamps a text watermark on a video (ffmpeg). */
export interface VideoWatermarker {
  stamp(video: Readable, text: string): Promise<Readable>;
}

/** Makes a higher-resolution copy of a video (the 1080p and 4K renditions). */
export interface VideoUpscaler {
  upscale(video: Readable, width: number, height: number): Promise<Readable>;
}
