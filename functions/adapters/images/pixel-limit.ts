import { ImageRejectedError } from '../../core/errors';
import type { ImageMimeType } from '../../core/ports';

/**
 * Decoding costs memory by pixels, not by bytes: a 420 KB PNG can declare 12000×12000. Images above
 * this are refused from their header, before anything decodes them. PNG and JPEG crops stream (measured
 * at 40 MP: +15–60 MB resident), so the limit is about time and the upstream, not memory.
 */
export const DEFAULT_IMAGE_MAX_PIXELS = 40_000_000;

/**
 * libwebp decodes a whole frame at once (measured: a 16 MP WebP crop peaks at +133 MB resident, a 40 MP
 * one at +306 MB and 15 s), so WebP gets a lower limit, still above a 4K frame.
 */
export const WEBP_MAX_PIXELS = 16_000_000;

/** Throws the client's 422 for an image whose header declares more pixels than its format may have. */
export function checkPixels(mimeType: ImageMimeType, width: number, height: number, maxPixels: number): void {
  const webp = mimeType === 'image/webp' && maxPixels > WEBP_MAX_PIXELS;
  const limit = webp ? WEBP_MAX_PIXELS : maxPixels;
  if (width * height <= limit) return;
  const mp = limit / 1_000_000;
  const words = Number.isInteger(mp) ? `${mp} megapixels` : `${limit} pixels`;
  throw new ImageRejectedError(
    `is ${width}x${height} pixels; at most ${words} are accepted${webp ? ' for WebP' : ''}`,
  );
}
