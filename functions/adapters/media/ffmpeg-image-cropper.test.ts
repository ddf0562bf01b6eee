import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageRejectedError } from '../../core/errors';
import type { SourceImage } from '../../core/ports';
import { centreCropBox, FfmpegImageCropper } from './ffmpeg-image-cropper';
import { generate, greyRegion, probe, requireFfmpeg } from './test-helpers';

const ffmpeg = requireFfmpeg();
/** Each crop takes tens of milliseconds here; leave room for a loaded CI machine or an emulated ffmpeg. */
const encode = { timeout: 60_000 };
let work: string;
let scratch: string;
let cropper: FfmpegImageCropper;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'veo-crop-test-'));
  scratch = join(work, 'scratch');
  await mkdir(scratch);
  cropper = new FfmpegImageCropper({ ffmpegPath: ffmpeg, tmpDir: scratch });
});
afterAll(() => rm(work, { recursive: true, force: true }));

async function makeImage(
  name: string,
  source: string,
  mimeType: SourceImage['mimeType'],
): Promise<SourceImage> {
  const file = join(work, name);
  await generate(ffmpeg, ['-f', 'lavfi', '-i', source, '-frames:v', '1', file]);
  const info = await probe(ffmpeg, file);
  return { bytes: await readFile(file), mimeType, width: info.width, height: info.height };
}

async function inspect(image: SourceImage, name: string) {
  const file = join(work, name);
  await writeFile(file, image.bytes);
  return { file, info: await probe(ffmpeg, file) };
}

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

describe('FfmpegImageCropper', () => {
  it('crops a 1000×1000 PNG to 16:9 and to 9:16 around its centre', encode, async () => {
    // White square in the middle of a black picture: the centre survives either crop.
    const png = await makeImage(
      'square.png',
      'color=c=black:s=1000x1000,drawbox=x=450:y=450:w=100:h=100:c=white:t=fill',
      'image/png',
    );

    const wide = await cropper.crop(png, '16:9');
    expect(wide).toMatchObject({ mimeType: 'image/png', width: 1000, height: 562 });
    expect(wide.bytes.subarray(1, 4).toString()).toBe('PNG');
    const wideFile = await inspect(wide, 'wide.png');
    expect(wideFile.info).toMatchObject({ width: 1000, height: 562 });
    // The white box is now at y = 450 − 219 = 231.
    const centre = await greyRegion(ffmpeg, wideFile.file, 0, '100:100:450:231');
    expect(centre.every((v) => v > 240)).toBe(true);

    const tall = await cropper.crop(png, '9:16');
    expect(tall).toMatchObject({ mimeType: 'image/png', width: 562, height: 1000 });
    expect((await inspect(tall, 'tall.png')).info).toMatchObject({ width: 562, height: 1000 });
    expect(await readdir(scratch)).toEqual([]);
  });

  it('keeps a JPEG a JPEG and turns a WebP into a PNG', encode, async () => {
    const jpeg = await makeImage('photo.jpg', 'testsrc=s=1280x1024', 'image/jpeg');
    const croppedJpeg = await cropper.crop(jpeg, '16:9');
    expect(croppedJpeg).toMatchObject({ mimeType: 'image/jpeg', width: 1280, height: 720 });
    expect(croppedJpeg.bytes.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect((await inspect(croppedJpeg, 'photo-cropped.jpg')).info).toMatchObject({
      width: 1280,
      height: 720,
    });

    const webp = await makeImage('picture.webp', 'testsrc=s=800x600', 'image/webp');
    const croppedWebp = await cropper.crop(webp, '9:16');
    expect(croppedWebp).toMatchObject({ mimeType: 'image/png', width: 336, height: 600 });
    expect((await inspect(croppedWebp, 'picture-cropped.png')).info).toMatchObject({
      width: 336,
      height: 600,
    });
    expect(await readdir(scratch)).toEqual([]);
  });

  it('returns an image already of the ratio as it is', async () => {
    const image: SourceImage = {
      bytes: Buffer.from('unused'),
      mimeType: 'image/png',
      width: 1280,
      height: 720,
    };
    expect(await cropper.crop(image, '16:9')).toBe(image);
  });

  it('rejects what it cannot decode, for the client to fix, and cleans up', encode, async () => {
    const garbage: SourceImage = {
      bytes: Buffer.from('not a png'),
      mimeType: 'image/png',
      width: 100,
      height: 100,
    };
    const error = await cropper.crop(garbage, '16:9').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageRejectedError);
    expect((error as Error).message).toBe('could not be decoded for cropping');
    expect(await readdir(scratch)).toEqual([]);
  });

  it('rejects an image too small to crop', async () => {
    const dot: SourceImage = { bytes: Buffer.alloc(1), mimeType: 'image/png', width: 1, height: 1 };
    await expect(cropper.crop(dot, '9:16')).rejects.toBeInstanceOf(ImageRejectedError);
  });
});
