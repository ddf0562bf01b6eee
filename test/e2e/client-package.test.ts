import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';

/**
 * The client as a user gets it: built, packed with `npm pack`, installed from the tarball into an empty
 * project (offline: it has no dependencies), then imported by a plain script that generates a video
 * against the local stack, its `bin` run once, and its declarations type-checked under Node's ESM rules.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
let stack: RunningLocalStack;
let dir: string;
let project: string;

async function npm(args: string[], cwd: string) {
  return run('npm', args, { cwd, env: { ...process.env, npm_config_update_notifier: 'false' } });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'veo-client-package-'));
  project = join(dir, 'project');
  const packed = (async () => {
    await npm(['run', 'build:client'], root);
    const { stdout } = await npm(['pack', './client', '--pack-destination', dir, '--json'], root);
    const [{ filename }] = JSON.parse(stdout) as [{ filename: string }];
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'user-project', private: true, type: 'module' }),
    );
    await npm(['install', join(dir, filename), '--offline', '--no-audit', '--no-fund'], project);
  })();
  const started = startLocalStack({ port: 0, simulatorLatencyMs: 500, pollIntervalSeconds: 1 });
  [stack] = await Promise.all([started, packed]);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const isMp4 = (bytes: Buffer) => bytes.subarray(4, 8).toString('latin1') === 'ftyp';

describe('the packed client installed into an empty project', () => {
  it('installs with nothing beside it: no dependencies, only JS and declarations', () => {
    const installed = join(project, 'node_modules', '@veo-serverless', 'client');
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));

    expect(manifest.dependencies).toBeUndefined();
    expect(readdirSync(join(project, 'node_modules')).filter((n) => n !== '.bin')).toEqual([
      '.package-lock.json',
      '@veo-serverless',
    ]);
    expect(readdirSync(join(installed, 'dist')).sort()).toEqual([
      'api-types.d.ts',
      'cli.d.ts',
      'cli.js',
      'veo-client.d.ts',
      'veo-client.js',
    ]);
  });

  it("generates a video from a user's script that imports the package", async () => {
    writeFileSync(
      join(project, 'generate.js'),
      `import { VeoClient, videoUrl } from '@veo-serverless/client';
const client = new VeoClient({ baseUrl: process.env.VEO_BASE_URL, apiKey: process.env.VEO_API_KEY });
const { taskId } = await client.generate({ prompt: 'a dog running on a beach' });
const states = [];
const record = await client.waitForTask(taskId, { intervalMs: 200, onProgress: (p) => states.push(p.state) });
const saved = await client.download(videoUrl(record), 'dog.mp4');
console.log(JSON.stringify({ taskId, state: record.state, states, saved }));
`,
    );

    const { stdout } = await run(process.execPath, ['generate.js'], {
      cwd: project,
      env: { ...process.env, VEO_BASE_URL: stack.url, VEO_API_KEY: stack.apiKey },
    });
    const result = JSON.parse(stdout);

    expect(result).toMatchObject({ state: 'success', saved: { path: join(project, 'dog.mp4') } });
    expect(result.states.at(-1)).toBe('success');
    expect(result.saved.bytes).toBeGreaterThan(0);
    expect(isMp4(readFileSync(join(project, 'dog.mp4')))).toBe(true);
  });

  it('runs the installed bin', async () => {
    const { stdout } = await run(join(project, 'node_modules', '.bin', 'veo'), ['credit', '--json'], {
      cwd: project,
      env: { ...process.env, VEO_BASE_URL: stack.url, VEO_API_KEY: stack.apiKey },
    });

    expect(Number(JSON.parse(stdout))).toBeGreaterThan(0);
  });

  it("type-checks a user's TypeScript under Node's ESM resolution, rejecting a wrong request", async () => {
    writeFileSync(
      join(project, 'typed.ts'),
      `import { type TaskRecord, VeoApiError, VeoClient } from '@veo-serverless/client';
const client = new VeoClient({ baseUrl: 'http://127.0.0.1:8080', apiKey: 'k' });
const { taskId }: { taskId: string } = await client.generate({ prompt: 'a dog', aspectRatio: '9:16' });
const record: TaskRecord = await client.waitForTask(taskId);
const flag: 0 | 1 | 2 | 3 = record.successFlag;
// @ts-expect-error veo4 is not a model: the declarations carry the API's enums, not \`any\`
await client.generate({ prompt: 'a dog', model: 'veo4' });
export const seen = [flag, VeoApiError.name];
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          target: 'es2023',
          strict: true,
          noEmit: true,
          types: ['node'],
          skipLibCheck: true,
          typeRoots: [join(root, 'node_modules', '@types')],
        },
        files: ['typed.ts'],
      }),
    );

    const check = await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc')], {
      cwd: project,
    }).catch((error: { stdout: string }) => error);

    expect(check.stdout).toBe('');
  });
});
