import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findFfmpeg } from '../functions/adapters/media/ffmpeg';

/**
 * Real MP4s of the size and length a generation asked for, so tests check the downloaded file's real
 * width, height and duration. The two 720p 8-second videos with sound (16:9 and 9:16) ship in assets/;
 * any other (resolution, ratio, duration, sound) is made once with ffmpeg (colour bars and a tone,
 * ultrafast, very low bitrate) and cached on disk in the temp dir, shared by every simulator on the host.
 * 4K is made at 1 frame per second (1 s GOP): still 3840×2160 and the asked length, but seconds to make,
 * not tens of seconds. Without ffmpeg the shipped video of the same ratio is served instead.
 */

export interface VideoSpec {
  width: number;
  height: number;
  durationSeconds: number;
  audio: boolean;
}

export type SimAspectRatio = '16:9' | '9:16';
export type SimResolution = '720p' | '1080p' | '4k';

const longSide: Record<SimResolution, number> = { '720p': 1280, '1080p': 1920, '4k': 3840 };
const shortSide: Record<SimResolution, number> = { '720p': 720, '1080p': 1080, '4k': 2160 };

/** Veo's frame sizes: 720p 16:9 is 1280×720, 9:16 720×1280; 1080p 1920×1080; 4k 3840×2160. */
export function videoSpec(
  aspectRatio: SimAspectRatio,
  resolution: SimResolution = '720p',
  durationSeconds = 8,
  audio = true,
): VideoSpec {
  const landscape = aspectRatio === '16:9';
  const [width, height] = landscape
    ? [longSide[resolution], shortSide[resolution]]
    : [shortSide[resolution], longSide[resolution]];
  return { width, height, durationSeconds, audio };
}

export const shippedVideos: Record<SimAspectRatio, string> = {
  '16:9': fileURLToPath(new URL('./assets/sample-16x9.mp4', import.meta.url)),
  '9:16': fileURLToPath(new URL('./assets/sample-9x16.mp4', import.meta.url)),
};

/** Bump when the recipe changes, so older cached files are not served. */
const RECIPE = 'v1';
/** VEO_SIMULATOR_CACHE_DIR moves the cache (e.g. to time a cold start); default: the temp dir. */
const cacheDir = process.env.VEO_SIMULATOR_CACHE_DIR || join(tmpdir(), 'veo-simulator-videos');
const pending = new Map<string, Promise<string>>();

function shippedFor(spec: VideoSpec): string | undefined {
  if (spec.durationSeconds !== 8 || !spec.audio) return undefined;
  if (spec.width === 1280 && spec.height === 720) return shippedVideos['16:9'];
  if (spec.width === 720 && spec.height === 1280) return shippedVideos['9:16'];
  return undefined;
}

/** The path of an MP4 matching `spec`: shipped, cached, or made now (once per spec, even when asked twice). */
export function videoFile(spec: VideoSpec): Promise<string> {
  const shipped = shippedFor(spec);
  if (shipped) return Promise.resolve(shipped);
  const name = `${spec.width}x${spec.height}-${spec.durationSeconds}s-${spec.audio ? 'audio' : 'mute'}-${RECIPE}.mp4`;
  const path = join(cacheDir, name);
  let made = pending.get(path);
  if (!made) {
    made = (async () => {
      if (existsSync(path)) return path;
      const ffmpeg = findFfmpeg();
      if (!ffmpeg) return shippedVideos[spec.width >= spec.height ? '16:9' : '9:16'];
      await mkdir(cacheDir, { recursive: true });
      // Written aside and renamed, so a concurrent simulator never reads half a file.
      const partial = `${path}.${process.pid}.${Date.now()}.partial.mp4`;
      try {
        await renderVideo(ffmpeg, spec, partial);
        await rename(partial, path);
      } finally {
        await rm(partial, { force: true });
      }
      return path;
    })();
    made.catch(() => pending.delete(path));
    pending.set(path, made);
  }
  return made;
}

/** ffmpeg's arguments for a small test video: colour bars, 440 Hz tone, ultrafast, very low bitrate. */
export function renderArgs(spec: VideoSpec, output: string): string[] {
  const fps = spec.width * spec.height > 1920 * 1080 ? 1 : 24;
  const duration = String(spec.durationSeconds);
  const args = ['-hide_banner', '-loglevel', 'error', '-y'];
  args.push(
    '-f',
    'lavfi',
    '-i',
    `smptehdbars=size=${spec.width}x${spec.height}:rate=${fps}:duration=${duration}`,
  );
  if (spec.audio) args.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${duration}`);
  args.push(
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-crf',
    '45',
    '-g',
    String(fps),
    '-pix_fmt',
    'yuv420p',
  );
  if (spec.audio) args.push('-c:a', 'aac', '-b:a', '32k', '-ac', '1', '-shortest');
  args.push('-t', duration, '-movflags', '+faststart', output);
  return args;
}

export function renderVideo(ffmpeg: string, spec: VideoSpec, output: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, renderArgs(spec, output), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}: ${stderr.trim()}`)),
    );
  });
}
