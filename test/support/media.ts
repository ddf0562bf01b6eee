import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findFfmpeg } from '../../functions/adapters/media/ffmpeg';

/** Test-only helpers: they run the same ffmpeg the adapters use, so no ffprobe is needed. */

const run = promisify(execFile);

export function requireFfmpeg(): string {
  const path = findFfmpeg();
  if (!path) throw new Error('no ffmpeg: npm ci installs @ffmpeg-installer/ffmpeg, or set FFMPEG_PATH');
  return path;
}

export interface MediaInfo {
  durationSeconds: number;
  width: number;
  height: number;
  videoCodec: string;
  audioCodec?: string;
}

/** Decodes the whole file (`-f null`), which fails on a broken file, and reads what ffmpeg says about it. */
export async function probe(ffmpeg: string, file: string): Promise<MediaInfo> {
  const { stderr } = await run(ffmpeg, ['-hide_banner', '-nostdin', '-i', file, '-f', 'null', '-']);
  // Only the input's description: the null output lists its own (decoded) streams after it.
  const input = stderr.split(/^Output #0/m)[0] ?? '';
  const duration = /Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/.exec(input);
  // Stream ids read `#0:0(und)` in ffmpeg 4 and `#0:0[0x1](und)` in later versions.
  const video = /Stream #0:\d+\S*: Video: (\w+).*?, (\d+)x(\d+)/.exec(input);
  const audio = /Stream #0:\d+\S*: Audio: (\w+)/.exec(input);
  if (!video) throw new Error(`no video stream in ${file}: ${stderr}`);
  return {
    durationSeconds: duration
      ? Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3])
      : 0,
    videoCodec: String(video[1]),
    width: Number(video[2]),
    height: Number(video[3]),
    audioCodec: audio?.[1],
  };
}

/** One frame's region as 8-bit grey bytes; `crop` is ffmpeg's `w:h:x:y` (expressions allowed). */
export async function greyRegion(
  ffmpeg: string,
  file: string,
  atSeconds: number,
  crop: string,
): Promise<Buffer> {
  const { stdout } = await run(
    ffmpeg,
    [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-ss',
      String(atSeconds),
      '-i',
      file,
      '-frames:v',
      '1',
    ].concat(['-vf', `crop=${crop},format=gray`, '-f', 'rawvideo', '-']),
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout;
}

export function meanAbsoluteDifference(a: Buffer, b: Buffer): number {
  if (a.length !== b.length || a.length === 0)
    throw new Error(`regions differ in size: ${a.length} ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] ?? 0) - (b[i] ?? 0));
  return sum / a.length;
}

/** MD5 of the audio packets as stored (no decoding): equal when the audio was copied unchanged. */
export async function audioPacketsMd5(ffmpeg: string, file: string): Promise<string> {
  const { stdout } = await run(ffmpeg, [
    ...['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', file],
    ...['-map', '0:a', '-c', 'copy', '-f', 'md5', '-'],
  ]);
  return stdout.trim();
}

/** Makes a test input with ffmpeg's lavfi sources, e.g. `testsrc=s=1000x1000`. */
export async function generate(ffmpeg: string, args: string[]): Promise<void> {
  await run(ffmpeg, ['-hide_banner', '-nostdin', '-loglevel', 'error', ...args, '-y']);
}
