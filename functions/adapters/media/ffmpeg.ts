import { spawn } from 'node:child_process';
import { accessSync, constants, createReadStream, createWriteStream, statSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * The ffmpeg binary: where it is and how to run it.
 *
 * Lookup order (findFfmpeg):
 * 1. `FFMPEG_PATH`, when set (an explicit choice: an unusable path is a configuration error, not a fallback);
 * 2. the static build shipped by the npm package `@ffmpeg-installer/ffmpeg` (a devDependency: it serves the
 *    local runtime and the tests on a developer's machine and in CI);
 * 3. `/opt/bin/ffmpeg`, where a Lambda layer puts it (the Lambda bundle does not contain the npm binary);
 * 4. none: undefined, so the service answers "feature disabled" (505) for watermarks instead of failing.
 */

/** Where a Lambda layer's `bin/ffmpeg` appears in the function's file system. */
export const LAYER_FFMPEG_PATH = '/opt/bin/ffmpeg';

export interface FindFfmpegOptions {
  /** @default process.env */
  env?: Record<string, string | undefined>;
  /** @default the npm package's binary for this platform, if installed */
  packagedBinary?: () => string | undefined;
  /** @default LAYER_FFMPEG_PATH */
  layerPath?: string;
}

export function findFfmpeg(options: FindFfmpegOptions = {}): string | undefined {
  const configured = (options.env ?? process.env).FFMPEG_PATH?.trim();
  if (configured) {
    if (!isExecutableFile(configured)) {
      throw new Error(`FFMPEG_PATH is set to "${configured}", which is not an executable file`);
    }
    return configured;
  }
  const candidates = [(options.packagedBinary ?? packagedFfmpeg)(), options.layerPath ?? LAYER_FFMPEG_PATH];
  return candidates.find((path) => path !== undefined && isExecutableFile(path));
}

/**
 * The binary of `@ffmpeg-installer/<platform>-<arch>` (the platform package that `@ffmpeg-installer/ffmpeg`
 * installs as an optional dependency), or undefined when it is not installed.
 */
export function packagedFfmpeg(): string | undefined {
  // The name is built at run time and resolved through createRequire, which esbuild does not follow: the
  // Lambda bundle must not try to include a 70 MB x64 binary. There the lookup simply finds nothing.
  const platformPackage = `@ffmpeg-installer/${process.platform}-${process.arch}`;
  try {
    const manifest = createRequire(import.meta.url).resolve(`${platformPackage}/package.json`);
    return join(dirname(manifest), process.platform === 'win32' ? 'ffmpeg.exe' : 'ffmpeg');
  } catch {
    return undefined;
  }
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** ffmpeg exited with an error; the message carries the last lines it wrote to stderr. */
export class FfmpegError extends Error {
  override name = 'FfmpegError';
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

export interface RunFfmpegOptions {
  /** Kills ffmpeg after this long. @default 300_000 */
  timeoutMs?: number;
  /** Strings (temp directories) replaced by `<tmp>` in error messages. */
  redact?: string[];
}

const STDERR_TAIL_CHARS = 4096;
const STDERR_TAIL_LINES = 5;

/**
 * Runs ffmpeg with an argument array: no shell, so nothing in the arguments is interpreted. Only the
 * errors are logged, and only the tail of stderr is kept, so memory stays flat whatever ffmpeg says.
 */
export function runFfmpeg(ffmpegPath: string, args: string[], options: RunFfmpegOptions = {}): Promise<void> {
  const redact = (text: string) =>
    (options.redact ?? []).reduce((result, secret) => result.replaceAll(secret, '<tmp>'), text);
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath, ['-hide_banner', '-nostdin', '-loglevel', 'error', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 300_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new FfmpegError(`ffmpeg could not be started: ${error.message}`, null, ''));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) {
        resolve();
        return;
      }
      const tail = redact(stderr).trim().split('\n').slice(-STDERR_TAIL_LINES).join('\n');
      const how = timedOut ? 'timed out' : signal ? `was killed by ${signal}` : `exited with ${code}`;
      reject(new FfmpegError(`ffmpeg ${how}${tail ? `: ${tail}` : ''}`, code, tail));
    });
  });
}

/**
 * Makes a string safe as one filter option value: quoted for the option parser, then escaped again for the
 * filtergraph parser (ffmpeg-filters(1), "Notes on filtergraph escaping"). Used for file paths.
 */
export function escapeFilterValue(value: string): string {
  const quoted = `'${value.replaceAll("'", "'\\''")}'`;
  return quoted.replace(/[\\'[\],;]/g, (c) => `\\${c}`);
}

export interface TranscodeOptions {
  ffmpegPath: string;
  /** Where the input and output live while ffmpeg runs. @default os.tmpdir() */
  tmpDir?: string;
  timeoutMs?: number;
  /** Names the temp directory, e.g. `veo-watermark-`. */
  prefix: string;
}

/**
 * Runs ffmpeg over a video stream with flat memory whatever the video's size: the input is streamed to a
 * temp file, ffmpeg works file to file, and the caller reads the output from disk. The temp directory is
 * deleted when that stream closes (ended, failed or destroyed), so the caller must consume or destroy it.
 * `args` gets the input and output paths and the temp directory (for extra files such as a text file).
 */
export async function transcode(
  video: Readable,
  options: TranscodeOptions,
  args: (paths: { input: string; output: string; dir: string }) => Promise<string[]> | string[],
): Promise<Readable> {
  const dir = await mkdtemp(join(options.tmpDir ?? tmpdir(), options.prefix));
  const input = join(dir, 'input.mp4');
  const output = join(dir, 'output.mp4');
  try {
    await pipeline(video, createWriteStream(input));
    await runFfmpeg(options.ffmpegPath, await args({ input, output, dir }), {
      timeoutMs: options.timeoutMs,
      redact: [dir],
    });
    // Free the space now (Lambda's /tmp is small); the output goes when its stream closes.
    const leftovers = (await readdir(dir)).filter((name) => name !== 'output.mp4');
    await Promise.all(leftovers.map((name) => rm(join(dir, name))));
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const result = createReadStream(output);
  result.once('close', () => {
    rm(dir, { recursive: true, force: true }).catch(() => {});
  });
  return result;
}
