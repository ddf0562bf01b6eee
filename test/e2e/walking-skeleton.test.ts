import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey, newApiKey } from '../../functions/core/api-keys';
import { generateRequestSchema } from '../../functions/core/schema';
import { signCallback } from '../../functions/core/stages/notify';
import { newTask } from '../../functions/core/task';
import type { TaskRecord } from '../../functions/core/task/record';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient, download, localDeps, taskCount } from './support';

/**
 * One Veo task travels the whole path on the local stack: real DynamoDB Local, real fauxqs (SQS + S3),
 * the simulator, and the same handler modules that are deployed to Lambda.
 */
let stack: RunningLocalStack;
const received: { headers: IncomingMessage['headers']; body: string; at: number }[] = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => {
    body += c;
  });
  req.on('end', () => {
    received.push({ headers: req.headers, body, at: Date.now() });
    res.writeHead(200).end('ok');
  });
});
let callbackUrl = '';

beforeAll(async () => {
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/veo-callback`;
  stack = await startLocalStack({ port: 0, simulatorLatencyMs: 1500, pollIntervalSeconds: 1 });
  client = apiClient(stack);
});

afterAll(async () => {
  await stack?.stop();
  receiver.close();
});

let client: ReturnType<typeof apiClient>;
const call: ReturnType<typeof apiClient>['call'] = (...args) => client.call(...args);
const credit = (key?: string) => client.credit(key);
const waitForRecord = (taskId: string, done: (data: TaskRecord) => boolean) =>
  client.waitForRecord(taskId, done);

describe('local stack, end to end', () => {
  it('answers the credit balance of the development key', async () => {
    const { status, json } = await call('GET', '/api/v1/chat/credit');
    expect(status).toBe(200);
    expect(json).toEqual({ code: 200, msg: 'success', data: 100_000 });
  });

  it('refuses missing and unknown keys with a 401 envelope, and unknown routes with a 404 envelope', async () => {
    const missing = await call('GET', '/api/v1/chat/credit', { key: null });
    const unknown = await call('GET', '/api/v1/chat/credit', { key: 'not-a-key' });
    const noRoute = await call('GET', '/api/v1/veo/nothing-here');
    expect([missing.status, missing.json.code, missing.json.data]).toEqual([401, 401, null]);
    expect([unknown.status, unknown.json.code]).toEqual([401, 401]);
    expect([noRoute.status, noRoute.json.code]).toEqual([404, 404]);
    expect(noRoute.json.msg).toContain('/api/v1/veo/nothing-here');
  });

  it('generates a video: submit, successFlag 1, a downloadable MP4 and a signed callback', async () => {
    const before = await credit();
    // The kie.ai document's example request, minus the images.
    const submit = await call<{ taskId: string }>('POST', '/api/v1/veo/generate', {
      body: {
        prompt: 'A dog playing in a park',
        model: 'veo3_fast',
        watermark: 'MyBrand',
        callBackUrl: callbackUrl,
        aspectRatio: '16:9',
        seeds: 12345,
        enableFallback: false,
        enableTranslation: true,
      },
    });
    expect(submit.status).toBe(200);
    expect(submit.json.msg).toBe('success');
    const taskId = submit.json.data.taskId;
    expect(taskId).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(await credit()).toBe(before - 60);

    const waiting = await call('GET', `/api/v1/veo/record-info?taskId=${taskId}`);
    expect(waiting.json.data).toMatchObject({ taskId, successFlag: 0, state: 'waiting', response: null });

    const record = await waitForRecord(taskId, (d) => d.successFlag !== 0);
    expect(record).toMatchObject({
      taskId,
      successFlag: 1,
      state: 'success',
      errorCode: null,
      fallbackFlag: false,
      seeds: 12345,
      aspectRatio: '16:9',
      promptSent: 'A dog playing in a park',
      creditsConsumed: 60,
    });
    expect(JSON.parse(record.paramJson)).toMatchObject({ prompt: 'A dog playing in a park', seeds: 12345 });
    expect(record.completeTime).toBeGreaterThanOrEqual(record.createTime);
    const resultUrls = record.response?.resultUrls ?? [];
    expect(resultUrls).toHaveLength(1);
    expect(JSON.parse(record.resultJson ?? '')).toEqual({ resultUrls });

    // The watermarked video is a new MP4; the original is the upstream's video, byte for byte.
    const sample = readFileSync(new URL('../../simulator/assets/sample-16x9.mp4', import.meta.url));
    const stamped = await download(resultUrls[0]);
    const original = await download(record.response?.originUrls[0]);
    expect(stamped.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(stamped.equals(sample)).toBe(false);
    expect(original.equals(sample)).toBe(true);

    const deadline = Date.now() + 15_000;
    while (!received.some((r) => r.body.includes(taskId)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const callback = received.find((r) => r.body.includes(taskId));
    expect(callback).toBeDefined();
    const timestamp = Number(callback?.headers['x-webhook-timestamp']);
    expect(callback?.headers['x-webhook-signature']).toBe(
      signCallback(stack.webhookSecret, taskId, timestamp),
    );
    expect(JSON.parse(callback?.body ?? '{}')).toMatchObject({
      code: 200,
      msg: 'Veo3.1 video generated successfully.',
      data: { taskId, info: { resolution: '720p' }, fallbackFlag: false },
    });
  });

  it('ends a content-filtered generation as successFlag 3 with the rejected wording, and refunds it', async () => {
    const before = await credit();
    const submit = await call<{ taskId: string }>('POST', '/api/v1/veo/generate', {
      body: { prompt: 'something [reject]' },
    });
    const record = await waitForRecord(submit.json.data.taskId, (d) => d.successFlag !== 0);
    expect(record).toMatchObject({ successFlag: 3, errorCode: 422, state: 'fail', response: null });
    expect(record.errorMessage).toContain('Your request was rejected by Flow(');
    expect(await credit()).toBe(before);
  });

  it.each([
    [{ prompt: '' }, 'prompt'],
    [{ prompt: 'p', seeds: 5 }, 'seeds'],
    [{ prompt: 'p', model: 'veo9' }, 'model'],
    [{ prompt: 'p', aspectRatio: '1:1' }, 'aspectRatio'],
    [{ prompt: 'p', generationType: 'TEXT_2_VIDEO', imageUrls: ['https://example.com/a.png'] }, 'imageUrls'],
    [
      { prompt: 'p', generationType: 'REFERENCE_2_VIDEO', imageUrls: ['https://e.com/1'], model: 'veo3' },
      'model',
    ],
    [{ prompt: 'p', callBackUrl: 'http://169.254.169.254/latest/meta-data' }, 'callBackUrl'],
    [{ prompt: 'p', watermark: 'w'.repeat(101) }, 'watermark'],
    ['{"prompt": "unterminated', 'JSON'],
  ])('answers 422 naming the field for %j, writing and charging nothing', async (body, field) => {
    const [creditsBefore, tasksBefore] = [await credit(), await taskCount()];
    const { status, json } = await call<{ taskId: string }>('POST', '/api/v1/veo/generate', { body });
    expect(status).toBe(422);
    expect(json.code).toBe(422);
    expect(json.data).toBeNull();
    expect(json.msg).toContain(field);
    expect([await credit(), await taskCount()]).toEqual([creditsBefore, tasksBefore]);
  });

  it('answers record is null for unknown tasks and for tasks of another key', async () => {
    const submit = await call<{ taskId: string }>('POST', '/api/v1/veo/generate', {
      body: { prompt: 'mine' },
    });
    const otherKey = newApiKey();
    await seedKey(otherKey, 10);
    const theirs = await call('GET', `/api/v1/veo/record-info?taskId=${submit.json.data.taskId}`, {
      key: otherKey,
    });
    const unknown = await call('GET', '/api/v1/veo/record-info?taskId=veo_doesnotexist');
    expect([theirs.status, theirs.json.msg]).toEqual([422, 'record is null']);
    expect(theirs.json).toEqual(unknown.json);
  });

  it('answers the retention message for a task older than 14 days', async () => {
    const deps = await localDeps();
    const request = generateRequestSchema(deps.settings.urlPolicy).parse({ prompt: 'old' });
    const old = newTask({
      request,
      paramJson: '{"prompt":"old"}',
      keyHash: hashApiKey(stack.apiKey),
      credits: 0,
      provider: 'simulator',
      now: Date.now() - 15 * 86400_000,
      retentionDays: 14,
      budgetSeconds: 60,
    });
    await deps.tasks.createCharged(old, { keyHash: old.keyHash, credits: 0 });
    const { status, json } = await call('GET', `/api/v1/veo/record-info?taskId=${old.taskId}`);
    expect([status, json.msg]).toEqual([422, 'Temporarily supports records within 14 days']);
  });

  it('ignores the body and Content-Type of GET requests', async () => {
    const url = new URL(`${stack.url}/api/v1/chat/credit`);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: 'GET',
          headers: {
            authorization: `Bearer ${stack.apiKey}`,
            'content-type': 'application/json',
            'content-length': '9',
          },
        },
        (res) => {
          let body = '';
          res.on('data', (c) => {
            body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end('{not json');
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 200, msg: 'success' });
  });

  it('answers 402 when the key cannot pay, writing nothing', async () => {
    const poorKey = newApiKey();
    await seedKey(poorKey, 10);
    const tasksBefore = await taskCount();
    const { status, json } = await call<{ taskId: string }>('POST', '/api/v1/veo/generate', {
      body: { prompt: 'p' },
      key: poorKey,
    });
    expect([status, json.code]).toEqual([402, 402]);
    expect([await credit(poorKey), await taskCount()]).toEqual([10, tasksBefore]);
  });
});

async function seedKey(key: string, credits: number) {
  await (await localDeps()).apiKeys.put({
    keyHash: hashApiKey(key),
    name: 'test',
    credits,
    webhookSecret: 'whsec_test',
  });
}
