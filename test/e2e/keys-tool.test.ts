import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { readPublishedStack } from '../../local/stack-file';
import { main } from '../../tools/keys/main';
import { apiClient } from './support';

/**
 * The keys tool against a running local stack, found the way `npm start` publishes itself; a temporary
 * stack file keeps the test from touching a developer's running stack.
 */
let dir: string;
let stackFile: string;
let stack: RunningLocalStack;
let client: ReturnType<typeof apiClient>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keys-e2e-'));
  stackFile = join(dir, 'local-stack.json');
  stack = await startLocalStack({ port: 0, stackFile });
  client = apiClient(stack);
});

afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** `npm run keys -- …args` in process, with no target: the running local stack. */
async function keys(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t), stackFile });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('npm run keys against the local stack', () => {
  it('finds the stack through the file it publishes', async () => {
    expect(await readPublishedStack(stackFile)).toEqual({
      pid: process.pid,
      url: stack.url,
      region: process.env.AWS_REGION,
      dynamodbEndpoint: process.env.DYNAMODB_ENDPOINT,
      tables: {
        tasks: process.env.TASKS_TABLE,
        apiKeys: process.env.API_KEYS_TABLE,
        counters: process.env.COUNTERS_TABLE,
      },
      startedAt: expect.any(String),
    });
  });

  it('creates a key the API accepts with its credits, tops it up and revokes it', async () => {
    const created = await keys('create', '--name', 'e2e customer', '--credits', '1234', '--json');
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toContain(
      `keys: table ${process.env.API_KEYS_TABLE} (local stack at ${stack.url})`,
    );
    const { apiKey, keyId } = JSON.parse(created.stdout) as { apiKey: string; keyId: string };
    expect(await client.credit(apiKey)).toBe(1234);

    expect((await keys('add-credits', keyId, '66')).code).toBe(0);
    expect(await client.credit(apiKey)).toBe(1300);

    expect((await keys('revoke', keyId)).code).toBe(0);
    const refused = await client.call('GET', '/api/v1/chat/credit', { key: apiKey });
    expect([refused.status, refused.json.code]).toEqual([401, 401]);
    // The API trusts a key it just authenticated for a few seconds, but no charged work starts after a
    // revocation: the charge itself checks the key.
    const generate = await client.call('POST', '/api/v1/veo/generate', {
      key: apiKey,
      body: { prompt: 'revoked' },
    });
    expect([generate.status, generate.json.code]).toEqual([401, 401]);
    // The development key is untouched.
    expect(await client.credit()).toBe(100_000);
  });

  it('runs as the npm script does, in a process of its own', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--no-warnings=ExperimentalWarning', '--import', 'tsx', 'tools/keys.ts', 'list'],
      { cwd: root, env: { ...process.env, VEO_LOCAL_STACK_FILE: stackFile } },
    );
    expect(stderr).toBe(`keys: table ${process.env.API_KEYS_TABLE} (local stack at ${stack.url})\n`);
    expect(stdout).toMatch(/^NAME +KEY ID +CREDITS/);
    expect(stdout).toMatch(/^development +[0-9a-f]{12} +100000 +default +\d{4}-\d\d-\d\dT[\d:]+Z +-$/m);
    expect(stdout).toMatch(/^e2e customer +[0-9a-f]{12} +1300 +default +\S+ +\S+Z$/m);
    expect(stdout).not.toContain(stack.apiKey);
  });

  it('takes the file back when the stack stops, and then says the stack is not running', async () => {
    await stack.stop();
    expect(existsSync(stackFile)).toBe(false);
    const run = await keys('list');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^keys: No target: the local stack is not running/);
  });
});
