import type sharpModule from 'sharp';
import { ImageRejectedError } from '../../core/errors';
import type { ImageCropper, ImageMimeType, SourceImage } from '../../core/ports';
import type { ConcreteAspectRatio } from '../../core/schema';
import { checkPixels, DEFAULT_IMAGE_MAX_PIXELS } from './pixel-limit';

export interface SharpImageCropperOptions {
  /** Images declaring more pixels are refused before decoding. @default DEFAULT_IMAGE_MAX_PIXELS */
  maxPixels?: number;
  /** @default 20 */
  timeoutSeconds?: number;
}

export interface CropBox {
  width: number;
  height: number;
  x: number;
  y: number;
}

const ratios: Record<ConcreteAspectRatio, [number, number]> = { '16:9': [16, 9], '9:16': [9, 16] };

/** libvips' names for the formats the fetcher lets through. */
const formats: Record<ImageMimeType, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/webp': 'webp',
};

/**
 * sharp's native binary loads on the first crop, not at cold start: most tasks have no Auto image, and a
 * bundle whose binary is for another platform still starts (and says so on the first crop).
 */
let loading: Promise<typeof sharpModule> | undefined;
function loadSharp(): Promise<typeof sharpModule> {
  loading ??= import('sharp').then(
    ({ default: sharp }) => {
      // Process-wide: a worker crops several tasks' images at once, each should hold only what it streams.
      sharp.cache(false);
      sharp.concurrency(1);
      return sharp;
    },
    (error: unknown) => {
      loading = undefined; // ours, not the image's: the task is retried, and the import with it
      throw error;
    },
  );
  return loading;
}

/**
 * The largest centred box of the aspect ratio inside the image, with even sides (what video encoders
 * and the upstream like); no scaling.
 */
export function centreCropBox(width: number, height: number, aspectRatio: ConcreteAspectRatio): CropBox {
  const [rw, rh] = ratios[aspectRatio];
  const even = (n: number) => Math.floor(n / 2) * 2;
  const tooWide = width * rh > height * rw;
  const cropWidth = even(tooWide ? (height * rw) / rh : width);
  const cropHeight = even(tooWide ? height : (width * rh) / rw);
  return {
    width: cropWidth,
    height: cropHeight,
    x: Math.floor((width - cropWidth) / 2),
    y: Math.floor((height - cropHeight) / 2),
  };
}

/**
 * Centre-crops untrusted input images with libvips (sharp), a decoder made for them: the pixel limit is
 * checked from the header before decoding, the format must be the one sniffed, and the crop streams
 * (sequential read, no operation cache, one thread) so memory follows the image's width, not its area.
 * JPEG stays JPEG (at high quality, without Huffman optimisation, which buffers the whole image: +125 MB
 * at 40 MP against +26 MB); PNG and WebP become PNG.
 */
export class SharpImageCropper implements ImageCropper {
  private readonly maxPixels: number;
  private readonly timeoutSeconds: number;

  constructor(options: SharpImageCropperOptions = {}) {
    this.maxPixels = options.maxPixels ?? DEFAULT_IMAGE_MAX_PIXELS;
    this.timeoutSeconds = options.timeoutSeconds ?? 20;
  }

  async crop(image: SourceImage, aspectRatio: ConcreteAspectRatio): Promise<SourceImage> {
    const declared = centreCropBox(image.width, image.height, aspectRatio);
    if (declared.width < 2 || declared.height < 2) throw new ImageRejectedError('is too small to crop');
    if (declared.width === image.width && declared.height === image.height) return image;
    checkPixels(image.mimeType, image.width, image.height, this.maxPixels);

    const sharp = await loadSharp();
    try {
      // The header only (no limit yet, so an oversized image gets our message): what libvips itself reads
      // decides the box, as a file may disagree with image-size.
      const { format, width, height } = await sharp(image.bytes, { limitInputPixels: false }).metadata();
      if (format !== formats[image.mimeType] || !width || !height) throw undecodable();
      checkPixels(image.mimeType, width, height, this.maxPixels);
      const box = centreCropBox(width, height, aspectRatio);
      if (box.width < 2 || box.height < 2) throw new ImageRejectedError('is too small to crop');
      const cropped = sharp(image.bytes, {
        limitInputPixels: this.maxPixels,
        sequentialRead: true,
        failOn: 'warning',
      })
        .extract({ left: box.x, top: box.y, width: box.width, height: box.height })
        .timeout({ seconds: this.timeoutSeconds });
      const jpeg = image.mimeType === 'image/jpeg';
      const bytes = await (jpeg
        ? cropped.jpeg({ quality: 92, optimiseCoding: false })
        : cropped.png()
      ).toBuffer();
      return { bytes, mimeType: jpeg ? 'image/jpeg' : 'image/png', width: box.width, height: box.height };
    } catch (error) {
      if (error instanceof ImageRejectedError) throw error;
      // sharp's errors are all about this input (corrupt data, over a limit, too slow to decode): the
      // client's to fix, and retrying would only spend another worker's time. The cause keeps libvips' words.
      const timedOut = error instanceof Error && /timeout/i.test(error.message);
      throw timedOut
        ? new ImageRejectedError(`could not be cropped within ${this.timeoutSeconds} s`, { cause: error })
        : undecodable(error);
    }
  }
}

function undecodable(cause?: unknown): ImageRejectedError {
  return new ImageRejectedError('could not be decoded for cropping', { cause });
}
