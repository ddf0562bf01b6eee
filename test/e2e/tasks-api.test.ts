import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompactRecord } from '../../functions/core/api/task-list';
import { hashApiKey, newApiKey } from '../../functions/core/api-keys';
import { generateRequestSchema } from '../../functions/core/schema';
import { newTask, type Task } from '../../functions/core/task';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient, localDeps } from './support';

/** Beyond kie.ai on the local stack: GET /veo/tasks, POST /veo/cancel, GET /openapi.json. */
let stack: RunningLocalStack;
let client: ReturnType<typeof apiClient>;
let deps: Awaited<ReturnType<typeof localDeps>>;
const callbacks: { url: string; body: { code: number; msg: string; data: { taskId: string } } }[] = [];
const receiver = createServer((req, res) => {
  let raw = '';
  req.on('data', (chunk) => {
    raw += chunk;
  });
  req.on('end', () => {
    callbacks.push({ url: req.url ?? '', body: JSON.parse(raw) });
    res.writeHead(200).end();
  });
});
let receiverUrl = '';

beforeAll(async () => {
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  stack = await startLocalStack({ port: 0, simulatorLatencyMs: 300, pollIntervalSeconds: 1 });
  client = apiClient(stack);
  deps = await localDeps();
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  receiver.close();
});

async function newKey(credits = 1000): Promise<string> {
  const key = newApiKey();
  await deps.apiKeys.put({ keyHash: hashApiKey(key), name: 'tasks-api', credits, webhookSecret: 'whsec_t' });
  return key;
}

/** A task written straight to the table without a queue message: it stays queued. */
async function queuedTask(key: string, body: Record<string, unknown>, createdAt = Date.now()): Promise<Task> {
  const task = newTask({
    request: generateRequestSchema(deps.settings.urlPolicy).parse(body),
    paramJson: JSON.stringify(body),
    keyHash: hashApiKey(key),
    credits: 100,
    provider: 'simulator',
    now: createdAt,
    retentionDays: 14,
    budgetSeconds: 600,
  });
  await deps.tasks.createCharged(task, { keyHash: task.keyHash, credits: task.credits });
  return task;
}

const list = (query: string, key?: string) =>
  client.call<{ tasks: CompactRecord[]; nextCursor: string | null }>('GET', `/api/v1/veo/tasks${query}`, {
    key,
  });
const cancel = (taskId: unknown, key?: string) =>
  client.call<CompactRecord>('POST', '/api/v1/veo/cancel', { body: { taskId }, key });

describe('GET /veo/tasks', () => {
  it('lists only the caller’s tasks, newest first, across pages', async () => {
    const key = await newKey();
    const start = Date.now() - 60_000;
    const created: Task[] = [];
    for (let i = 0; i < 5; i++)
      created.push(await queuedTask(key, { prompt: `task ${i}` }, start + i * 1000));
    const newestFirst = created.map((t) => t.taskId).reverse();

    const seen: string[] = [];
    const pages: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const { status, json } = await list(query, key);
      expect([status, json.msg]).toEqual([200, 'success']);
      pages.push(json.data.tasks.length);
      seen.push(...json.data.tasks.map((t) => t.taskId));
      cursor = json.data.nextCursor;
    } while (cursor);
    expect(pages).toEqual([2, 2, 1]);
    expect(seen).toEqual(newestFirst);

    const all = await list('', key);
    expect(all.json.data.nextCursor).toBeNull();
    expect(all.json.data.tasks[0]).toEqual({
      taskId: newestFirst[0],
      createTime: start + 4000,
      completeTime: null,
      successFlag: 0,
      state: 'waiting',
      model: 'veo3_fast',
      aspectRatio: '16:9',
      prompt: 'task 4',
      resultUrls: null,
      failMsg: null,
    });

    // Another key sees none of them, and cannot walk the first key's listing with its cursor.
    const other = await newKey();
    const theirs = await list('', other);
    expect(theirs.json.data).toEqual({ tasks: [], nextCursor: null });
    const firstPage = await list('?limit=2', key);
    const stolen = await list(`?cursor=${firstPage.json.data.nextCursor}`, other);
    expect([stolen.status, stolen.json.msg]).toEqual([422, 'cursor is not valid']);
  });

  it('signs the result URLs of finished tasks', async () => {
    const taskId = await client.generate({ prompt: 'a listed video' });
    await client.waitForRecord(taskId);
    const { json } = await list('?limit=100');
    const entry = json.data.tasks.find((t) => t.taskId === taskId);
    expect(entry).toMatchObject({ successFlag: 1, state: 'success', prompt: 'a listed video' });
    expect(entry?.resultUrls?.[0]).toMatch(/^http/);
  });

  it('refuses forged cursors and bad limits with 422', async () => {
    const key = await newKey();
    const forge = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const answers = await Promise.all([
      list('?cursor=not-base64-json', key),
      list(`?cursor=${forge({ taskId: 'veo_x', keyHash: hashApiKey(key), createdAt: 1, extra: 1 })}`, key),
      list(`?cursor=${forge({ taskId: 'veo_x', keyHash: 'f'.repeat(64), createdAt: 1 })}`, key),
      list(`?cursor=${forge({ taskId: '../x', keyHash: hashApiKey(key), createdAt: 1 })}`, key),
      list('?cursor=a%2Fb', key),
    ]);
    for (const { status, json } of answers) expect([status, json.msg]).toEqual([422, 'cursor is not valid']);
    for (const limit of ['0', '101', '2.5', 'ten']) {
      const { status, json } = await list(`?limit=${limit}`, key);
      expect([status, json.msg]).toEqual([422, 'limit must be a whole number from 1 to 100']);
    }
    // A well-formed cursor of the caller's own is only a starting point, even an odd one.
    const recent = await list(
      `?cursor=${forge({ taskId: 'veo_x', keyHash: hashApiKey(key), createdAt: Date.now() })}`,
      key,
    );
    expect([recent.status, recent.json.data]).toEqual([200, { tasks: [], nextCursor: null }]);
    const own = await list(
      `?cursor=${forge({ taskId: 'veo_x', keyHash: hashApiKey(key), createdAt: 1 })}`,
      key,
    );
    expect(own.json.data).toEqual({ tasks: [], nextCursor: null });
  });
});

describe('POST /veo/cancel', () => {
  it('cancels a queued task, refunds it, calls back, and the worker ignores it afterwards', async () => {
    const key = await newKey(1000);
    const task = await queuedTask(key, { prompt: 'never made', callBackUrl: `${receiverUrl}/cancel` });
    expect(await client.credit(key)).toBe(900);

    const { status, json } = await cancel(task.taskId, key);
    expect([status, json.msg]).toEqual([200, 'success']);
    expect(json.data).toMatchObject({
      taskId: task.taskId,
      successFlag: 2,
      state: 'fail',
      failMsg: 'cancelled by the client',
    });
    expect(await client.credit(key)).toBe(1000);

    const record = (
      await client.call<Record<string, unknown>>('GET', `/api/v1/veo/record-info?taskId=${task.taskId}`, {
        key,
      })
    ).json.data;
    expect(record).toMatchObject({
      successFlag: 2,
      state: 'fail',
      errorCode: 400,
      errorMessage: 'cancelled by the client',
      failMsg: 'cancelled by the client',
      creditsConsumed: 0,
    });

    // A generate message arriving afterwards (e.g. a late delivery) finds nothing to do.
    await deps.queues.generate({ taskId: task.taskId });
    await expect
      .poll(() => callbacks.find((c) => c.body.data.taskId === task.taskId), { timeout: 15_000 })
      .toBeDefined();
    expect(callbacks.find((c) => c.body.data.taskId === task.taskId)?.body).toMatchObject({
      code: 400,
      msg: 'cancelled by the client',
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect((await deps.tasks.get(task.taskId))?.status).toBe('cancelled');
    const submits = stack.simulator.requests.filter(
      (r) => r.kind === 'submit' && JSON.stringify(r.body).includes('never made'),
    );
    expect(submits).toEqual([]);
    expect(await client.credit(key)).toBe(1000);

    // Cancelling twice: it has ended.
    const again = await cancel(task.taskId, key);
    expect([again.status, again.json.msg]).toEqual([422, 'the task can no longer be cancelled']);
  });

  it('refuses finished tasks, other keys and unknown ids with 422, refunding nothing', async () => {
    const done = await client.generate({ prompt: 'already made' });
    await client.waitForRecord(done);
    const before = await client.credit();
    const other = await newKey();
    const mine = await queuedTask(stack.apiKey, { prompt: 'still queued' });
    const [finished, notMine, unknown, malformed, missing] = await Promise.all([
      cancel(done),
      cancel(mine.taskId, other),
      cancel('veo_doesnotexist'),
      cancel('../etc'),
      client.call('POST', '/api/v1/veo/cancel', { body: {} }),
    ]);
    expect([finished.status, finished.json.msg]).toEqual([422, 'the task can no longer be cancelled']);
    expect([notMine.status, notMine.json.msg]).toEqual([422, 'record is null']);
    expect(unknown.json).toEqual(notMine.json);
    expect(malformed.json).toEqual(notMine.json);
    expect([missing.status, missing.json.msg]).toEqual([422, 'taskId is required']);
    expect((await deps.tasks.get(mine.taskId))?.status).toBe('queued');
    expect(await client.credit()).toBe(before - 100);
  });
});

describe('GET /openapi.json', () => {
  it('serves the contract without a key, with every path', async () => {
    const response = await fetch(`${stack.url}/api/v1/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/json');
    const doc = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/api/v1/capabilities.json',
        '/api/v1/chat/credit',
        '/api/v1/events.schema.json',
        '/api/v1/openapi.json',
        '/api/v1/veo/cancel',
        '/api/v1/veo/extend',
        '/api/v1/veo/generate',
        '/api/v1/veo/get-1080p-video',
        '/api/v1/veo/get-4k-video',
        '/api/v1/veo/record-info',
        '/api/v1/veo/tasks',
      ].sort(),
    );
  });
});
