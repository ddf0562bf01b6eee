import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { pngBytes } from '../../../simulator/fixtures';
import { blackPng } from '../../../test/support/images';
import { ImageRejectedError } from '../../core/errors';
import type { SourceImage } from '../../core/ports';
import { centreCropBox, SharpImageCropper } from './sharp-image-cropper';

const cropper = new SharpImageCropper();

/** A black picture with a white square in the middle: the centre survives any centre crop. */
async function squareOnBlack(size: number, format: 'png' | 'jpeg' | 'webp'): Promise<SourceImage> {
  const white = await sharp({
    create: { width: 100, height: 100, channels: 3, background: '#ffffff' },
  })
    .png()
    .toBuffer();
  const bytes = await sharp({ create: { width: size, height: size, channels: 3, background: '#000000' } })
    .composite([{ input: white, left: size / 2 - 50, top: size / 2 - 50 }])
    [format]()
    .toBuffer();
  return { bytes, mimeType: `image/${format}`, width: size, height: size };
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageRejectedError);
  return (error as Error).message;
}

/** Peak resident memory (sampled) while `work` runs, above what was resident before, and the time taken. */
async function measure(work: () => Promise<unknown>): Promise<{ growth: number; ms: number }> {
  const started = Date.now();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 2);
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  return { growth: Math.max(peak, process.memoryUsage().rss) - before, ms: Date.now() - started };
}

const MB = 1024 * 1024;

describe('centreCropBox', () => {
  it.each([
    [1000, 1000, '16:9', { width: 1000, height: 562, x: 0, y: 219 }],
    [1000, 1000, '9:16', { width: 562, height: 1000, x: 219, y: 0 }],
    [1001, 1001, '16:9', { width: 1000, height: 562, x: 0, y: 219 }],
    [1920, 1080, '16:9', { width: 1920, height: 1080, x: 0, y: 0 }],
    [3000, 1000, '16:9', { width: 1776, height: 1000, x: 612, y: 0 }],
    [3000, 1000, '9:16', { width: 562, height: 1000, x: 1219, y: 0 }],
    [720, 1280, '16:9', { width: 720, height: 404, x: 0, y: 438 }],
  ] as const)('%i×%i to %s', (width, height, ratio, box) => {
    expect(centreCropBox(width, height, ratio)).toEqual(box);
  });
});

describe('SharpImageCropper', () => {
  it('crops a 1000×1000 PNG to 16:9 and to 9:16 around its centre', async () => {
    const png = await squareOnBlack(1000, 'png');

    const wide = await cropper.crop(png, '16:9');
    expect(wide).toMatchObject({ mimeType: 'image/png', width: 1000, height: 562 });
    expect(await sharp(wide.bytes).metadata()).toMatchObject({ format: 'png', width: 1000, height: 562 });
    // The white square is now at y = 450 − 219 = 231; the rows above and below it stay black.
    const centre = await sharp(wide.bytes)
      .extract({ left: 450, top: 231, width: 100, height: 100 })
      .greyscale()
      .raw()
      .toBuffer();
    expect(centre.every((v) => v > 240)).toBe(true);
    const corner = await sharp(wide.bytes)
      .extract({ left: 0, top: 0, width: 100, height: 100 })
      .greyscale()
      .raw()
      .toBuffer();
    expect(corner.every((v) => v < 15)).toBe(true);

    const tall = await cropper.crop(png, '9:16');
    expect(tall).toMatchObject({ mimeType: 'image/png', width: 562, height: 1000 });
    expect(await sharp(tall.bytes).metadata()).toMatchObject({ width: 562, height: 1000 });
  });

  it('keeps a JPEG a JPEG and turns a WebP into a PNG', async () => {
    const jpeg = { ...(await squareOnBlack(1000, 'jpeg')) };
    const croppedJpeg = await cropper.crop(jpeg, '16:9');
    expect(croppedJpeg).toMatchObject({ mimeType: 'image/jpeg', width: 1000, height: 562 });
    expect(croppedJpeg.bytes.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(await sharp(croppedJpeg.bytes).metadata()).toMatchObject({ format: 'jpeg', width: 1000 });

    const webp = await squareOnBlack(800, 'webp');
    const croppedWebp = await cropper.crop(webp, '9:16');
    expect(croppedWebp).toMatchObject({ mimeType: 'image/png', width: 450, height: 800 });
    expect(await sharp(croppedWebp.bytes).metadata()).toMatchObject({
      format: 'png',
      width: 450,
      height: 800,
    });
  });

  it('returns an image already of the ratio as it is, without decoding it', async () => {
    const image: SourceImage = {
      bytes: Buffer.from('unused'),
      mimeType: 'image/png',
      width: 1280,
      height: 720,
    };
    expect(await cropper.crop(image, '16:9')).toBe(image);
  });

  it('rejects what it cannot decode, for the client to fix', async () => {
    const garbage: SourceImage = {
      bytes: Buffer.from('not a png'),
      mimeType: 'image/png',
      width: 100,
      height: 100,
    };
    expect(await rejection(cropper.crop(garbage, '16:9'))).toBe('could not be decoded for cropping');

    const truncated = await squareOnBlack(1000, 'png');
    truncated.bytes = truncated.bytes.subarray(0, truncated.bytes.length - 200);
    expect(await rejection(cropper.crop(truncated, '16:9'))).toBe('could not be decoded for cropping');
  });

  it('rejects bytes of another format than the one sniffed (no SVG or TIFF reaches libvips)', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"></svg>');
    const asPng: SourceImage = { bytes: svg, mimeType: 'image/png', width: 100, height: 100 };
    expect(await rejection(cropper.crop(asPng, '16:9'))).toBe('could not be decoded for cropping');

    const png = await squareOnBlack(1000, 'png');
    const labelledJpeg: SourceImage = { ...png, mimeType: 'image/jpeg' };
    expect(await rejection(cropper.crop(labelledJpeg, '16:9'))).toBe('could not be decoded for cropping');
  });

  it('rejects an image too small to crop', async () => {
    const dot: SourceImage = { bytes: Buffer.alloc(1), mimeType: 'image/png', width: 1, height: 1 };
    await expect(cropper.crop(dot, '9:16')).rejects.toBeInstanceOf(ImageRejectedError);
  });

  describe('decompression bombs', () => {
    let bomb: Buffer;
    beforeAll(async () => {
      bomb = await blackPng(12000, 12000);
    }, 60_000);

    it('refuses a 420 KB PNG declaring 12000×12000 from its declared size, before decoding', async () => {
      expect(bomb.length).toBeLessThan(500 * 1024);
      const image: SourceImage = { bytes: bomb, mimeType: 'image/png', width: 12000, height: 12000 };
      let message = '';
      const { growth, ms } = await measure(async () => {
        message = await rejection(cropper.crop(image, '16:9'));
      });
      expect(message).toBe('is 12000x12000 pixels; at most 40 megapixels are accepted');
      // Decoding it (even streamed) takes over a second here; refusing it, a few milliseconds.
      expect(ms).toBeLessThan(500);
      expect(growth).toBeLessThan(50 * MB);
    });

    it('refuses the same bomb when the caller was told a small size: libvips reads the header', async () => {
      const lying: SourceImage = { bytes: bomb, mimeType: 'image/png', width: 1000, height: 1000 };
      let message = '';
      const { growth, ms } = await measure(async () => {
        message = await rejection(cropper.crop(lying, '16:9'));
      });
      expect(message).toBe('is 12000x12000 pixels; at most 40 megapixels are accepted');
      expect(ms).toBeLessThan(500);
      expect(growth).toBeLessThan(50 * MB);
    });
  });

  it('crops a 39-megapixel PNG in bounded memory (streamed, not decoded whole)', async () => {
    const big = await blackPng(7000, 5600);
    const image: SourceImage = { bytes: big, mimeType: 'image/png', width: 7000, height: 5600 };
    let cropped: SourceImage | undefined;
    const { growth } = await measure(async () => {
      cropped = await cropper.crop(image, '9:16');
    });
    expect(cropped).toMatchObject({ width: 3150, height: 5600, mimeType: 'image/png' });
    // Whole, the picture would take 118 MB decoded (7000 × 5600 × 3); streamed it is a few rows.
    expect(growth).toBeLessThan(60 * MB);
  }, 60_000);

  it('refuses a WebP over 16 megapixels (libwebp decodes whole frames)', async () => {
    const webp: SourceImage = {
      bytes: pngBytes(1, 1),
      mimeType: 'image/webp',
      width: 5000,
      height: 4000,
    };
    expect(await rejection(cropper.crop(webp, '16:9'))).toBe(
      'is 5000x4000 pixels; at most 16 megapixels are accepted for WebP',
    );
  });
});
