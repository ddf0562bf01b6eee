import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  audioPacketsMd5,
  generate,
  greyRegion,
  meanAbsoluteDifference,
  probe,
  requireFfmpeg,
} from '../../../test/support/media';
import { FfmpegError } from './ffmpeg';
import { DEFAULT_FONT_FILE, drawtextFilter, FfmpegWatermarker, watermarkLine } from './ffmpeg-watermarker';

const sample = fileURLToPath(new URL('../../../simulator/assets/sample-16x9.mp4', import.meta.url));
const hostile = "'; rm -rf / ; %{pts} \\ : '";
const bottomRight = 'iw/3:ih/6:iw*2/3:ih*5/6';
const topLeft = 'iw/3:ih/6:0:0';

const ffmpeg = requireFfmpeg();
/** Real encodes take about a second here; leave room for a loaded CI machine or an emulated ffmpeg. */
const encode = { timeout: 60_000 };
let work: string;
/** Temp files of the watermarker go here, under a name full of filtergraph metacharacters. */
let scratch: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'veo-watermark-test-'));
  scratch = join(work, "scratch dir 'quoted':colon,comma[bracket];semi");
  await mkdir(scratch);
});
afterAll(() => rm(work, { recursive: true, force: true }));

async function stampToFile(watermarker: FfmpegWatermarker, input: string, text: string, name: string) {
  const output = join(work, name);
  await pipeline(await watermarker.stamp(createReadStream(input), text), createWriteStream(output));
  return output;
}

async function scratchIsEmpty() {
  await vi.waitFor(async () => expect(await readdir(scratch)).toEqual([]), { timeout: 2000, interval: 20 });
}

describe('FfmpegWatermarker', () => {
  it(
    'stamps the sample: a valid MP4 of the same shape and length, audio untouched, text bottom right',
    encode,
    async () => {
      const watermarker = new FfmpegWatermarker({ ffmpegPath: ffmpeg, tmpDir: scratch });
      const output = await stampToFile(watermarker, sample, 'veo-serverless', 'stamped.mp4');

      const [before, after] = await Promise.all([probe(ffmpeg, sample), probe(ffmpeg, output)]);
      expect(after).toMatchObject({
        videoCodec: 'h264',
        width: before.width,
        height: before.height,
        audioCodec: 'aac',
      });
      expect(after.durationSeconds).toBeGreaterThan(7.8);
      expect(after.durationSeconds).toBeLessThan(8.3);
      expect(await audioPacketsMd5(ffmpeg, output)).toBe(await audioPacketsMd5(ffmpeg, sample));

      for (const at of [1, 4, 7]) {
        const [inBR, outBR, inTL, outTL] = await Promise.all([
          greyRegion(ffmpeg, sample, at, bottomRight),
          greyRegion(ffmpeg, output, at, bottomRight),
          greyRegion(ffmpeg, sample, at, topLeft),
          greyRegion(ffmpeg, output, at, topLeft),
        ]);
        // The text changes the corner; elsewhere only re-encoding noise remains.
        expect(meanAbsoluteDifference(inBR, outBR)).toBeGreaterThan(3);
        expect(meanAbsoluteDifference(inTL, outTL)).toBeLessThan(1.5);
      }
      await scratchIsEmpty();
    },
  );

  it(
    'renders a hostile text literally: no shell, no escaping trouble, no %{} expansion',
    encode,
    async () => {
      // A still black picture: any change of the stamp between frames would come from expanding %{pts}.
      const black = join(work, 'black.mp4');
      await generate(ffmpeg, [
        ...[
          '-f',
          'lavfi',
          '-i',
          'color=c=black:s=480x270:r=25:d=2',
          '-f',
          'lavfi',
          '-i',
          'anullsrc=r=44100:cl=mono',
        ],
        ...['-t', '2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', black],
      ]);
      // The font, too, sits at a path that needs escaping inside the filter.
      const fontFile = join(scratch, "font's:file.ttf");
      await copyFile(DEFAULT_FONT_FILE, fontFile);
      const watermarker = new FfmpegWatermarker({ ffmpegPath: ffmpeg, tmpDir: scratch, fontFile });

      const output = await stampToFile(watermarker, black, hostile, 'hostile.mp4');
      await rm(fontFile);

      expect(await probe(ffmpeg, output)).toMatchObject({ width: 480, height: 270, audioCodec: 'aac' });
      const early = await greyRegion(ffmpeg, output, 0.1, bottomRight);
      const late = await greyRegion(ffmpeg, output, 1.8, bottomRight);
      expect(early.filter((v) => v > 60).length).toBeGreaterThan(200);
      expect(meanAbsoluteDifference(early, late)).toBeLessThan(0.5);
      // The corner holds the text and nothing else lit up above it.
      expect((await greyRegion(ffmpeg, output, 0.1, topLeft)).every((v) => v < 30)).toBe(true);
      await scratchIsEmpty();
    },
  );

  it('deletes its temp files when the caller destroys the stream early', encode, async () => {
    const watermarker = new FfmpegWatermarker({ ffmpegPath: ffmpeg, tmpDir: scratch });
    const stamped = await watermarker.stamp(createReadStream(sample), 'early');
    expect(await readdir(scratch)).toHaveLength(1);
    const [temp] = await readdir(scratch);
    expect(await readdir(join(scratch, String(temp)))).toEqual(['output.mp4']);
    stamped.destroy();
    await scratchIsEmpty();
  });

  it('fails with ffmpeg words and leaves nothing behind when the input is no video', encode, async () => {
    const watermarker = new FfmpegWatermarker({ ffmpegPath: ffmpeg, tmpDir: scratch });
    const error = await watermarker
      .stamp(Readable.from([Buffer.from('not a video')]), 'x')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FfmpegError);
    expect((error as Error).message).toMatch(/^ffmpeg exited with \d+: .*<tmp>\/input\.mp4/s);
    expect((error as Error).message).not.toContain(scratch);
    expect(await readdir(scratch)).toEqual([]);
  });

  it('fails and cleans up when the input stream fails', async () => {
    const watermarker = new FfmpegWatermarker({ ffmpegPath: ffmpeg, tmpDir: scratch });
    const broken = new Readable({
      read() {
        this.destroy(new Error('download interrupted'));
      },
    });
    await expect(watermarker.stamp(broken, 'x')).rejects.toThrow('download interrupted');
    expect(await readdir(scratch)).toEqual([]);
  });

  it('passes the video through untouched when the text is blank', async () => {
    const watermarker = new FfmpegWatermarker({ ffmpegPath: ffmpeg, tmpDir: scratch });
    const video = createReadStream(sample);
    expect(await watermarker.stamp(video, ' \n\t ')).toBe(video);
    video.destroy();
  });

  it('refuses to start without its font', () => {
    expect(() => new FfmpegWatermarker({ ffmpegPath: ffmpeg, fontFile: join(work, 'none.ttf') })).toThrow(
      /font not found/,
    );
  });
});

describe('watermarkLine', () => {
  it('turns line breaks and control characters into single spaces', () => {
    expect(watermarkLine('  My\r\nBrand\t\u0000 2025\u2028!  ')).toBe('My Brand 2025 !');
    expect(watermarkLine(hostile)).toBe(hostile);
  });
});

describe('drawtextFilter', () => {
  it('sizes from the height, shrinks long texts, and escapes the file paths', () => {
    const filter = drawtextFilter("/tmp/a'b/font.ttf", '/tmp/x:y/text.txt', 100);
    expect(filter).toContain("fontfile=\\'/tmp/a\\'\\\\\\'\\'b/font.ttf\\'");
    expect(filter).toContain("textfile=\\'/tmp/x:y/text.txt\\'");
    expect(filter).toContain("fontsize=\\'min(h/20\\,w*0.92/(100*0.7))\\'");
    expect(filter).toContain("expansion=\\'none\\'");
  });
});
