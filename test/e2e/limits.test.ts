import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey, newApiKey } from '../../functions/core/api-keys';
import type { RateLimit } from '../../functions/core/rate-window';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient, localDeps, taskCount } from './support';

/**
 * Per-key rate limits and Idempotency-Key on the local stack (SPEC §2), with RATE_LIMIT 5/2s so a
 * window passes in seconds. Each test uses its own key, so their windows never mix.
 */
let stack: RunningLocalStack;
let client: ReturnType<typeof apiClient>;

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    simulatorLatencyMs: 200,
    pollIntervalSeconds: 1,
    environment: { RATE_LIMIT: '5/2s' },
  });
  client = apiClient(stack);
}, 60_000);
afterAll(() => stack?.stop());

async function newKey(rateLimit?: RateLimit): Promise<string> {
  const key = newApiKey();
  const { apiKeys } = await localDeps();
  await apiKeys.put({
    keyHash: hashApiKey(key),
    name: 'limits-test',
    credits: 100_000,
    webhookSecret: 'whsec-test',
    createdAt: Date.now(),
    rateLimit,
  });
  return key;
}

const generate = (key: string, body: unknown, idempotencyKey?: string) =>
  client.call<{ taskId: string }>('POST', '/api/v1/veo/generate', {
    key,
    body,
    headers: idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey },
  });

it('accepts 5 new tasks per 2 s, then 429 writing and charging nothing; reads are not counted', async () => {
  const key = await newKey();
  const first = await Promise.all(
    Array.from({ length: 5 }, (_, i) => generate(key, { prompt: `rate ${i}` })),
  );
  expect(first.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
  const credit = await client.credit(key);
  const tasks = await taskCount();

  const over = await generate(key, { prompt: 'one too many' });
  expect(over.status).toBe(429);
  expect(over.json).toEqual({
    code: 429,
    msg: 'Too many requests: at most 5 new tasks per 2 seconds for this key',
    data: null,
  });
  expect(await client.credit(key)).toBe(credit);
  expect(await taskCount()).toBe(tasks);

  // Reads go on while the key is over its limit.
  const taskId = first[0]?.json.data.taskId ?? '';
  for (let i = 0; i < 8; i++) {
    const read = await client.call('GET', `/api/v1/veo/record-info?taskId=${taskId}`, { key });
    expect(read.status).toBe(200);
  }
  expect((await client.call('GET', '/api/v1/chat/credit', { key })).status).toBe(200);

  // Another key is not affected by this one's window.
  expect((await generate(await newKey(), { prompt: 'other key' })).status).toBe(200);

  await new Promise((r) => setTimeout(r, 2100));
  expect((await generate(key, { prompt: 'after the window' })).status).toBe(200);
});

it("applies a key's own rateLimit instead of the default", async () => {
  const strict = await newKey({ limit: 2, windowSeconds: 60 });
  expect((await generate(strict, { prompt: 'a' })).status).toBe(200);
  expect((await generate(strict, { prompt: 'b' })).status).toBe(200);
  const over = await generate(strict, { prompt: 'c' });
  expect([over.status, over.json.msg]).toEqual([
    429,
    'Too many requests: at most 2 new tasks per 60 seconds for this key',
  ]);

  const generous = await newKey({ limit: 8, windowSeconds: 60 });
  const answers = await Promise.all(
    Array.from({ length: 9 }, (_, i) => generate(generous, { prompt: `g ${i}` })),
  );
  expect(answers.filter((a) => a.status === 200)).toHaveLength(8);
  expect(answers.filter((a) => a.status === 429)).toHaveLength(1);
});

it('answers a retried submit with the same taskId, charging once and not counting it again', async () => {
  const key = await newKey();
  const before = await client.credit(key);
  const body = { prompt: 'an idempotent fox', model: 'veo3_fast', seeds: 12345 };
  const first = await generate(key, body, 'retry-1');
  expect(first.status).toBe(200);
  const tasks = await taskCount();
  // The same JSON in another key order is the same request; retries beyond the limit still answer.
  for (let i = 0; i < 6; i++) {
    const again = await generate(
      key,
      { seeds: 12345, model: 'veo3_fast', prompt: 'an idempotent fox' },
      'retry-1',
    );
    expect([again.status, again.json.data?.taskId]).toEqual([200, first.json.data.taskId]);
  }
  expect(await taskCount()).toBe(tasks);
  expect(await client.credit(key)).toBe(before - 60);
  // The retries took no slots: four more new tasks fit in this window.
  const more = await Promise.all(Array.from({ length: 4 }, (_, i) => generate(key, { prompt: `more ${i}` })));
  expect(more.map((a) => a.status)).toEqual([200, 200, 200, 200]);

  const record = await client.call<{ taskId: string }>(
    'GET',
    `/api/v1/veo/record-info?taskId=${first.json.data.taskId}`,
    { key },
  );
  expect(record.json.data.taskId).toBe(first.json.data.taskId);
});

it('makes one task and one charge from 10 concurrent identical submits with one Idempotency-Key', async () => {
  const key = await newKey({ limit: 50, windowSeconds: 10 });
  const before = await client.credit(key);
  const tasks = await taskCount();
  const body = { prompt: 'ten at once', model: 'veo3' };
  const answers = await Promise.all(Array.from({ length: 10 }, () => generate(key, body, 'burst-1')));
  expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
  expect(new Set(answers.map((a) => a.json.data.taskId)).size).toBe(1);
  expect(await taskCount()).toBe(tasks + 1);
  expect(await client.credit(key)).toBe(before - 300);
});

it('refuses a reused Idempotency-Key with another body, and malformed keys, with 422', async () => {
  const key = await newKey();
  expect((await generate(key, { prompt: 'first body' }, 'reuse-1')).status).toBe(200);
  const credit = await client.credit(key);
  const tasks = await taskCount();

  const reused = await generate(key, { prompt: 'second body' }, 'reuse-1');
  expect(reused.status).toBe(422);
  expect(reused.json.msg).toMatch(/Idempotency-Key was already used with a different request body/);
  for (const bad of ['x'.repeat(256), 'has space']) {
    const answer = await generate(key, { prompt: 'bad key' }, bad);
    expect([answer.status, answer.json.msg]).toEqual([
      422,
      'Idempotency-Key must be 1 to 255 visible ASCII characters',
    ]);
  }
  expect(await client.credit(key)).toBe(credit);
  expect(await taskCount()).toBe(tasks);

  // Keys are per API key: another key may use the same Idempotency-Key for its own request.
  expect((await generate(await newKey(), { prompt: 'second body' }, 'reuse-1')).status).toBe(200);
});

it('makes an extension idempotent too', async () => {
  const key = await newKey();
  const source = (await generate(key, { prompt: 'a boat at sea', seeds: 10101 })).json.data.taskId;
  for (const deadline = Date.now() + 30_000; ; ) {
    const read = await client.call<{ successFlag: number }>(
      'GET',
      `/api/v1/veo/record-info?taskId=${source}`,
      {
        key,
      },
    );
    if (read.json.data?.successFlag === 1) break;
    if (Date.now() > deadline) throw new Error(`source task did not succeed: ${JSON.stringify(read.json)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const before = await client.credit(key);
  const body = { taskId: source, prompt: 'the boat sails away' };
  const extend = () =>
    client.call<{ taskId: string }>('POST', '/api/v1/veo/extend', {
      key,
      body,
      headers: { 'idempotency-key': 'extend-1' },
    });
  const [a, b, c] = await Promise.all([extend(), extend(), extend()]);
  expect([a?.status, b?.status, c?.status]).toEqual([200, 200, 200]);
  expect(b?.json.data.taskId).toBe(a?.json.data.taskId);
  expect(c?.json.data.taskId).toBe(a?.json.data.taskId);
  expect(a?.json.data.taskId).not.toBe(source);
  expect(await client.credit(key)).toBe(before - 60);

  // The same Idempotency-Key on generate is another request.
  const other = await generate(key, body, 'extend-1');
  expect(other.status).toBe(422);
});

describe('input caps (issue 14): refused with 422 naming the problem, nothing written or charged', () => {
  const urlOf = (length: number) => `https://example.com/${'a'.repeat(length - 20)}`;

  it('refuses URLs over 2,048 characters, up to one just under the 400 KB item size', async () => {
    const key = await newKey();
    const credit = await client.credit(key);
    const tasks = await taskCount();
    const cases: [unknown, string][] = [
      [{ prompt: 'p', callBackUrl: urlOf(2049) }, 'callBackUrl must be at most 2048 characters'],
      [{ prompt: 'p', callBackUrl: urlOf(399 * 1024) }, 'callBackUrl must be at most 2048 characters'],
      [{ prompt: 'p', imageUrls: [urlOf(399 * 1024)] }, 'imageUrls[0] must be at most 2048 characters'],
      [
        { prompt: 'p', imageUrls: ['https://example.com/a.png', urlOf(2049)] },
        'imageUrls[1] must be at most 2048 characters',
      ],
    ];
    for (const [body, msg] of cases) {
      const answer = await generate(key, body, `caps-${msg.length}-${JSON.stringify(body).length}`);
      expect([answer.status, answer.json]).toEqual([422, { code: 422, msg, data: null }]);
    }
    const fourK = await client.call('POST', '/api/v1/veo/get-4k-video', {
      key,
      body: { taskId: 'veo_none', callBackUrl: urlOf(2049) },
    });
    expect([fourK.status, fourK.json.msg]).toEqual([422, 'callBackUrl must be at most 2048 characters']);
    // A URL of exactly 2,048 characters is still a URL.
    expect((await generate(key, { prompt: 'p', callBackUrl: urlOf(2048) })).status).toBe(200);

    expect(await client.credit(key)).toBe(credit - 60);
    expect(await taskCount()).toBe(tasks + 1);
  });

  it('refuses a body nested 10,000 levels deep before anything recursive reads it', async () => {
    const key = await newKey();
    const credit = await client.credit(key);
    const tasks = await taskCount();
    for (const [path, body] of [
      ['/api/v1/veo/generate', `{"prompt":"p","enableFallback":${'['.repeat(10_000)}${']'.repeat(10_000)}}`],
      ['/api/v1/veo/generate', `${'['.repeat(10_000)}${']'.repeat(10_000)}`],
      [
        '/api/v1/veo/extend',
        `{"taskId":"veo_x","prompt":"p","x":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`,
      ],
    ] as const) {
      // With an Idempotency-Key too: the request hash is the recursive reader that answered 500.
      const answer = await client.call('POST', path, { key, body, headers: { 'idempotency-key': 'deep' } });
      expect([path, answer.status, answer.json]).toEqual([
        path,
        422,
        { code: 422, msg: 'The request body nests more than 32 levels deep', data: null },
      ]);
    }
    expect(await client.credit(key)).toBe(credit);
    expect(await taskCount()).toBe(tasks);
  });
});

it('answers a revoked key 401, not 429, while its rate window is spent (issue 14, point 8)', async () => {
  const key = await newKey({ limit: 1, windowSeconds: 60 });
  expect((await generate(key, { prompt: 'the only one this minute' })).status).toBe(200);
  const { apiKeys } = await localDeps();
  const stored = await apiKeys.get(hashApiKey(key));
  if (!stored) throw new Error('the key was not stored');
  await apiKeys.put({ ...stored, revoked: true, revokedAt: Date.now() });
  const tasks = await taskCount();

  // Within the API's authentication cache (10 s), with the window spent: the revocation decides.
  const after = await generate(key, { prompt: 'after the revocation' });

  expect([after.status, after.json.code]).toEqual([401, 401]);
  expect(await taskCount()).toBe(tasks);
});
