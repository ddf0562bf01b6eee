import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageRejectedError } from '../../core/errors';
import type { ImageCropper, ImageMimeType, SourceImage } from '../../core/ports';
import type { ConcreteAspectRatio } from '../../core/schema';
import { FfmpegError, runFfmpeg } from './ffmpeg';

export interface FfmpegImageCropperOptions {
  ffmpegPath: string;
  /** @default os.tmpdir() */
  tmpDir?: string;
  /** @default 30_000 */
  timeoutMs?: number;
}

export interface CropBox {
  width: number;
  height: number;
  x: number;
  y: number;
}

const ratios: Record<ConcreteAspectRatio, [number, number]> = { '16:9': [16, 9], '9:16': [9, 16] };

/** How each input type is read and written: JPEG stays JPEG (at high quality); PNG and WebP become PNG. */
const formats: Record<
  ImageMimeType,
  { input: string; output: string; mimeType: ImageMimeType; codec: string[] }
> = {
  'image/png': { input: 'input.png', output: 'output.png', mimeType: 'image/png', codec: ['-c:v', 'png'] },
  'image/webp': { input: 'input.webp', output: 'output.png', mimeType: 'image/png', codec: ['-c:v', 'png'] },
  'image/jpeg': {
    input: 'input.jpg',
    output: 'output.jpg',
    mimeType: 'image/jpeg',
    codec: ['-c:v', 'mjpeg', '-q:v', '2'],
  },
};

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

/** Centre-crops input images with ffmpeg's crop filter, through a temp directory removed afterwards. */
export class FfmpegImageCropper implements ImageCropper {
  constructor(private readonly options: FfmpegImageCropperOptions) {}

  async crop(image: SourceImage, aspectRatio: ConcreteAspectRatio): Promise<SourceImage> {
    const box = centreCropBox(image.width, image.height, aspectRatio);
    if (box.width < 2 || box.height < 2) throw new ImageRejectedError('is too small to crop');
    if (box.width === image.width && box.height === image.height) return image;

    const format = formats[image.mimeType];
    const dir = await mkdtemp(join(this.options.tmpDir ?? tmpdir(), 'veo-crop-'));
    try {
      const input = join(dir, format.input);
      const output = join(dir, format.output);
      await writeFile(input, image.bytes);
      try {
        await runFfmpeg(
          this.options.ffmpegPath,
          [
            ...['-i', input, '-vf', `crop=${box.width}:${box.height}:${box.x}:${box.y}`],
            ...['-frames:v', '1', ...format.codec, '-f', 'image2', '-update', '1', '-y', output],
          ],
          { timeoutMs: this.options.timeoutMs ?? 30_000, redact: [dir] },
        );
      } catch (error) {
        // The bytes were sniffed as an image already; what ffmpeg refuses (an animated WebP, a truncated
        // file) is the client's to fix. Not starting or timing out is ours. The cause keeps ffmpeg's words.
        if (error instanceof FfmpegError && error.exitCode !== null) {
          throw new ImageRejectedError('could not be decoded for cropping', { cause: error });
        }
        throw error;
      }
      return {
        bytes: await readFile(output),
        mimeType: format.mimeType,
        width: box.width,
        height: box.height,
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
