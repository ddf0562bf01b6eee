import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../functions/core/api-keys';
import { generateRequestSchema } from '../../functions/core/schema';
import { signCallback, verifyWebhook, webhookId } from '../../functions/core/stages/notify';
import { newTask } from '../../functions/core/task';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient, localDeps } from './support';

/**
 * Client callbacks on the local stack (SPEC §3): both signatures, retries through the notify queue with a
 * short schedule (1 s waits, 4 retries), every attempt listed in record-info, and the delivery-time
 * re-check of the address. Everything listens on 127.0.0.1.
 */
const schedule = [1, 1, 1, 1];
let stack: RunningLocalStack;
let client: ReturnType<typeof apiClient>;

/** A receiver whose answer depends on the path: /ok → 200, /flaky → 503 twice then 200, /down → 503. */
interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}
const received: Received[] = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
  });
  req.on('end', () => {
    const path = req.url ?? '';
    received.push({ path, headers: req.headers, body, at: Date.now() });
    const seen = received.filter((r) => r.path === path).length;
    const status = path === '/ok' || (path === '/flaky' && seen > 2) ? 200 : 503;
    res.writeHead(status).end();
  });
});
let receiverUrl = '';

beforeAll(async () => {
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  stack = await startLocalStack({
    port: 0,
    simulatorLatencyMs: 500,
    pollIntervalSeconds: 1,
    environment: { CALLBACK_RETRY_SCHEDULE_SECONDS: schedule.join(',') },
  });
  client = apiClient(stack);
});

afterAll(async () => {
  await stack?.stop();
  receiver.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const receivedFor = (taskId: string) => received.filter((r) => r.body.includes(taskId));
const callbacksOf = async (taskId: string) => (await client.record(taskId)).callbacks;
const headerRecord = (headers: IncomingHttpHeaders) =>
  Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]));

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await sleep(200);
  }
}

describe('client callbacks, end to end', () => {
  it("sends one callback whose kie.ai and Standard Webhooks signatures verify with the key's secret", async () => {
    const taskId = await client.generate({
      prompt: 'a lighthouse at dusk',
      callBackUrl: `${receiverUrl}/ok`,
    });
    const callbacks = await until(
      () => callbacksOf(taskId),
      (c) => c.length > 0,
    );
    expect(callbacks).toEqual([{ at: expect.any(Number), event: 'generation', attempt: 1, status: 200 }]);

    const [callback] = receivedFor(taskId);
    if (!callback) throw new Error('the receiver got nothing');
    const timestamp = Number(callback.headers['x-webhook-timestamp']);
    expect(callback.headers['x-webhook-signature']).toBe(
      signCallback(stack.webhookSecret, taskId, timestamp),
    );
    expect(callback.headers['webhook-id']).toBe(webhookId(taskId, 'generation'));
    expect(callback.headers['webhook-timestamp']).toBe(String(timestamp));
    expect(verifyWebhook(stack.webhookSecret, callback.headers, callback.body)).toMatchObject({
      code: 200,
      msg: 'Veo3.1 video generated successfully.',
      data: { taskId, fallbackFlag: false },
    });
    // The Standard Webhooks reference implementation agrees, and refuses an altered body.
    const reference = new Webhook(stack.webhookSecret);
    expect(reference.verify(callback.body, headerRecord(callback.headers))).toMatchObject({
      data: { taskId },
    });
    expect(() =>
      reference.verify(callback.body.replace('720p', '4k'), headerRecord(callback.headers)),
    ).toThrow();

    // The same notify message again (SQS delivers at least once): the chain has ended, nothing is sent.
    await (await localDeps()).queues.notify({ taskId, event: 'generation' });
    await sleep(2500);
    expect(receivedFor(taskId)).toHaveLength(1);
    expect(await callbacksOf(taskId)).toHaveLength(1);
  });

  it('retries a receiver that answers 503 until it recovers, listing every attempt in record-info', async () => {
    const taskId = await client.generate({ prompt: 'a paper boat', callBackUrl: `${receiverUrl}/flaky` });
    const callbacks = await until(
      () => callbacksOf(taskId),
      (c) => c.some((e) => e.status === 200),
    );
    expect(callbacks.map(({ event, attempt, status }) => ({ event, attempt, status }))).toEqual([
      { event: 'generation', attempt: 1, status: 503 },
      { event: 'generation', attempt: 2, status: 503 },
      { event: 'generation', attempt: 3, status: 200 },
    ]);
    // In order, each after the scheduled wait (1 s), within a few seconds in all.
    const times = callbacks.map((e) => e.at);
    for (const [i, at] of times.entries())
      if (i > 0) expect(at - (times[i - 1] ?? 0)).toBeGreaterThanOrEqual(900);
    expect((times[2] ?? 0) - (times[0] ?? 0)).toBeLessThan(10_000);

    const posts = receivedFor(taskId);
    expect(posts).toHaveLength(3);
    expect(new Set(posts.map((p) => p.headers['webhook-id']))).toEqual(
      new Set([webhookId(taskId, 'generation')]),
    );
    for (const post of posts)
      expect(() => verifyWebhook(stack.webhookSecret, post.headers, post.body)).not.toThrow();
  });

  it('gives up after 1 + schedule length attempts with a closing entry, and sends nothing more', async () => {
    const taskId = await client.generate({ prompt: 'a foggy pier', callBackUrl: `${receiverUrl}/down` });
    const callbacks = await until(
      () => callbacksOf(taskId),
      (c) => c.some((e) => e.error?.startsWith('gave up')),
    );
    const attempts = schedule.length + 1;
    expect(callbacks.map((e) => e.status ?? e.error)).toEqual([
      ...Array(attempts).fill(503),
      `gave up after ${attempts} attempts`,
    ]);
    expect(callbacks.map((e) => e.attempt)).toEqual([1, 2, 3, 4, 5, undefined]);
    await sleep(3000);
    expect(receivedFor(taskId)).toHaveLength(attempts);
    expect(await callbacksOf(taskId)).toHaveLength(attempts + 1);
  });

  it('re-checks the address at delivery: a refused callBackUrl is recorded once and not retried', async () => {
    // Submit refuses the metadata address; a task whose address became refusable after submit (a policy
    // change, a stored task) is written directly. Refusals after DNS resolution are unit-tested with the guard.
    const deps = await localDeps();
    const request = generateRequestSchema({ allowLoopback: true, allowHttp: true }).parse({ prompt: 'p' });
    const task = newTask({
      request: { ...request, callBackUrl: 'http://169.254.169.254/latest/meta-data' },
      paramJson: '{"prompt":"p"}',
      keyHash: hashApiKey(stack.apiKey),
      credits: 0,
      provider: 'simulator',
      now: Date.now(),
      retentionDays: 14,
      budgetSeconds: 60,
    });
    const failed = {
      ...task,
      status: 'failed' as const,
      errorCode: 501,
      errorMessage: 'failed',
      completedAt: Date.now(),
    };
    await deps.tasks.createCharged(failed, { keyHash: task.keyHash, credits: 0 });
    await deps.queues.notify({ taskId: task.taskId, event: 'generation' });

    const callbacks = await until(
      () => callbacksOf(task.taskId),
      (c) => c.length > 0,
    );
    expect(callbacks).toEqual([
      {
        at: expect.any(Number),
        event: 'generation',
        attempt: 1,
        error: expect.stringMatching(/^callBackUrl must not point to/),
      },
    ]);
    await sleep(2500);
    expect(await callbacksOf(task.taskId)).toHaveLength(1);
  });

  it('calls back for a task stored before tasks carried their callbackChains map', async () => {
    const deps = await localDeps();
    const request = generateRequestSchema({ allowLoopback: true, allowHttp: true }).parse({ prompt: 'p' });
    const task = newTask({
      request: { ...request, callBackUrl: `${receiverUrl}/ok` },
      paramJson: '{"prompt":"p"}',
      keyHash: hashApiKey(stack.apiKey),
      credits: 0,
      provider: 'simulator',
      now: Date.now(),
      retentionDays: 14,
      budgetSeconds: 60,
    });
    const old = { ...task, status: 'failed' as const, errorCode: 501, completedAt: Date.now() };
    delete old.callbackChains;
    await deps.tasks.createCharged(old, { keyHash: task.keyHash, credits: 0 });
    await deps.queues.notify({ taskId: task.taskId, event: 'generation' });

    const callbacks = await until(
      () => callbacksOf(task.taskId),
      (c) => c.length > 0,
    );
    expect(callbacks).toEqual([{ at: expect.any(Number), event: 'generation', attempt: 1, status: 200 }]);
    expect(receivedFor(task.taskId)).toHaveLength(1);
  });
});
