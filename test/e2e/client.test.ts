import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VeoApiError, VeoClient, videoUrl } from '../../client/veo-client';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { mp4Info } from '../../simulator/mp4-info';

/**
 * The typed client and the CLI against the real local stack (DynamoDB Local, fauxqs, the simulator and
 * the deployed handler modules): the CLI runs as a child process, exactly as `npm run veo` runs it.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
let stack: RunningLocalStack;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'veo-client-e2e-'));
  stack = await startLocalStack({ port: 0, simulatorLatencyMs: 1000, pollIntervalSeconds: 1 });
});

afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(
    process.execPath,
    ['--no-warnings=ExperimentalWarning', '--import', 'tsx', 'client/cli.ts', ...args],
    {
      cwd: root,
      env: { ...process.env, VEO_BASE_URL: stack.url, VEO_API_KEY: stack.apiKey, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => {
    stdout += c;
  });
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const isMp4 = (bytes: Buffer) => bytes.subarray(4, 8).toString('latin1') === 'ftyp';

describe('CLI on the local stack', () => {
  it('generates a video with --wait --out: progress on stderr, an MP4 on disk, exit 0', async () => {
    const out = join(dir, 'v.mp4');

    // With Veo 3.1's flags, as a current kie.ai client asks: Lite, 9:16, 1080p, 8 s.
    const run = await cli([
      'generate',
      'a dog in a park',
      '--model',
      'veo3_lite',
      '--aspect-ratio',
      '9:16',
      '--resolution',
      '1080p',
      '--duration',
      '8',
      '--wait',
      '--out',
      out,
      '--interval',
      '0.25',
    ]);

    expect(run.stderr).not.toContain('error');
    expect(run.code).toBe(0);
    const taskId = /^taskId: +(\S+)$/m.exec(run.stdout)?.[1];
    expect(taskId).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(run.stdout).toMatch(/^state: +success \(successFlag 1\)$/m);
    expect(run.stdout).toMatch(/^url: +http/m);
    expect(run.stdout).toContain(`file:     ${out}\n`);
    expect(isMp4(readFileSync(out))).toBe(true);
    expect(run.stdout).toContain('asked:    1080p, 8 s, audio, 1 video\n');
    // The file really is what the flags asked for.
    const info = mp4Info(readFileSync(out));
    expect(info).toMatchObject({ width: 1080, height: 1920 });
    expect(info?.durationSeconds).toBeCloseTo(8, 0);
    // Not a terminal: one line per state, each with the task and the elapsed time.
    expect(run.stderr).toMatch(new RegExp(`^${taskId} {2}0:\\d\\d {2}waiting$`, 'm'));
    expect(run.stderr).toMatch(new RegExp(`^${taskId} {2}0:\\d\\d {2}success$`, 'm'));
    expect(run.stdout + run.stderr).not.toContain(stack.apiKey);

    // The same task through the other commands.
    const status = await cli(['status', taskId ?? '', '--json']);
    const again = await cli(['download', taskId ?? '', '--out', join(dir, 'again.mp4')]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ taskId, successFlag: 1, state: 'success' });
    expect(again.code).toBe(0);
    expect(readFileSync(join(dir, 'again.mp4')).equals(readFileSync(out))).toBe(true);
  });

  it("exits 1 with the API's 422 message for a seed out of range, and 1 for an unknown key", async () => {
    const badSeed = await cli(['generate', 'a dog in a park', '--seed', '5']);
    const badKey = await cli(['credit'], { VEO_API_KEY: 'not-a-key' });

    expect(badSeed.code).toBe(1);
    expect(badSeed.stderr).toContain('error: seeds must be an integer between 10000 and 99999 (code 422)');
    expect(badSeed.stdout).toBe('');
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toMatch(/\(code 401\)/);
  });

  it('exits 2 with a short help for bad usage', async () => {
    const run = await cli(['generate', 'x', '--seed', 'abc']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--seed must be a whole number');
    expect(run.stderr).toContain('generate PROMPT');
  });
});

describe('VeoClient on the local stack', () => {
  it('submits, waits with progress, downloads, and maps API errors', async () => {
    const client = new VeoClient({ baseUrl: stack.url, apiKey: stack.apiKey });
    const before = await client.credit();
    const states: string[] = [];

    const { taskId } = await client.generate({ prompt: 'a cat on a sofa', model: 'veo3_fast', seeds: 23456 });
    const record = await client.waitForTask(taskId, {
      intervalMs: 250,
      onProgress: (p) => states.push(p.state),
    });
    const saved = await client.download(videoUrl(record) ?? '', join(dir, 'client.mp4'));

    expect(record).toMatchObject({ taskId, successFlag: 1, state: 'success', seeds: 23456 });
    expect(states.at(0)).toBe('waiting');
    expect(states.at(-1)).toBe('success');
    expect(isMp4(readFileSync(saved.path))).toBe(true);
    expect(await client.credit()).toBeLessThan(before);
    const unknown = await client.recordInfo('no_such_task').catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(VeoApiError);
    expect(unknown).toMatchObject({ code: 422, msg: 'record is null' });
  });
});
