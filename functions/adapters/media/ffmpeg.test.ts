import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireFfmpeg } from '../../../test/support/media';
import { escapeFilterValue, FfmpegError, findFfmpeg, packagedFfmpeg, runFfmpeg } from './ffmpeg';

const run = promisify(execFile);
let dir: string;
let executable: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'veo-ffmpeg-test-'));
  executable = join(dir, 'ffmpeg');
  await writeFile(executable, '#!/bin/sh\n');
  await chmod(executable, 0o755);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('findFfmpeg', () => {
  it('takes FFMPEG_PATH first', () => {
    const found = findFfmpeg({ env: { FFMPEG_PATH: executable }, packagedBinary: () => '/elsewhere' });
    expect(found).toBe(executable);
  });

  it('refuses a FFMPEG_PATH that is not an executable file instead of falling back', () => {
    expect(() => findFfmpeg({ env: { FFMPEG_PATH: join(dir, 'missing') } })).toThrow(/FFMPEG_PATH/);
    expect(() => findFfmpeg({ env: { FFMPEG_PATH: dir } })).toThrow(/not an executable file/);
  });

  it('then the npm package binary, then the Lambda layer, then nothing', () => {
    const env = { FFMPEG_PATH: '' };
    expect(findFfmpeg({ env, packagedBinary: () => executable, layerPath: '/nope' })).toBe(executable);
    expect(findFfmpeg({ env, packagedBinary: () => undefined, layerPath: executable })).toBe(executable);
    expect(findFfmpeg({ env, packagedBinary: () => join(dir, 'gone'), layerPath: executable })).toBe(
      executable,
    );
    expect(
      findFfmpeg({ env, packagedBinary: () => undefined, layerPath: join(dir, 'gone') }),
    ).toBeUndefined();
  });

  it('finds the npm package binary on this machine, and it has the drawtext filter', async () => {
    const packaged = packagedFfmpeg();
    expect(packaged).toMatch(/@ffmpeg-installer[\\/][a-z0-9]+-[a-z0-9]+[\\/]ffmpeg(\.exe)?$/);
    expect(findFfmpeg({ env: {} })).toBe(packaged);
    const { stdout } = await run(requireFfmpeg(), ['-hide_banner', '-filters']);
    expect(stdout).toMatch(/ drawtext +V->V/);
    expect(stdout).toMatch(/ crop +V->V/);
  });
});

describe('runFfmpeg', () => {
  it('rejects with the tail of stderr, temp paths redacted', async () => {
    const missing = join(dir, 'no-such-input.mp4');
    const error = await runFfmpeg(requireFfmpeg(), ['-i', missing, '-f', 'null', '-'], {
      redact: [dir],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FfmpegError);
    expect((error as FfmpegError).exitCode).not.toBe(0);
    expect((error as FfmpegError).message).toMatch(
      /^ffmpeg exited with \d+: <tmp>\/no-such-input\.mp4: No such file/,
    );
    expect((error as FfmpegError).message).not.toContain(dir);
  });

  it('kills ffmpeg after the timeout', async () => {
    const endless = ['-f', 'lavfi', '-i', 'nullsrc=s=16x16', '-f', 'null', '-'];
    await expect(runFfmpeg(requireFfmpeg(), endless, { timeoutMs: 300 })).rejects.toThrow(/ffmpeg timed out/);
  });

  it('rejects when the binary cannot be started', async () => {
    await expect(runFfmpeg(join(dir, 'missing'), ['-version'])).rejects.toThrow(/could not be started/);
  });
});

describe('escapeFilterValue', () => {
  it('quotes for the option parser and escapes again for the filtergraph parser', () => {
    expect(escapeFilterValue('/tmp/a')).toBe("\\'/tmp/a\\'");
    expect(escapeFilterValue("it's")).toBe("\\'it\\'\\\\\\'\\'s\\'");
    expect(escapeFilterValue('a:b,c[d];')).toBe("\\'a:b\\,c\\[d\\]\\;\\'");
  });
});
