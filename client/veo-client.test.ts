import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { type FakeApi, type FakeRoute, fail, fakeRecord, ok, startFakeApi } from '../test/support/fake-api';
import {
  type GenerateRequestInput,
  VeoApiError,
  VeoClient,
  VeoDownloadError,
  VeoWaitTimeoutError,
  type WaitProgress,
} from './veo-client';

let api: FakeApi | undefined;
let dir: string;
const KEY = 'test-key-123';

async function clientFor(routes: Record<string, FakeRoute>, baseSuffix = '') {
  api = await startFakeApi(routes);
  return { client: new VeoClient({ baseUrl: `${api.url}${baseSuffix}`, apiKey: KEY }), api };
}

/** Answers from a list in turn, repeating the last one. */
function sequence(...answers: ReturnType<FakeRoute>[]): FakeRoute {
  let i = 0;
  return () => answers[Math.min(i++, answers.length - 1)] as ReturnType<FakeRoute>;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'veo-client-'));
});
afterEach(async () => {
  await api?.stop();
  api = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('VeoClient requests', () => {
  it('submits the request as JSON with the key as a Bearer token and returns the taskId', async () => {
    const { client, api } = await clientFor({ 'POST /api/v1/veo/generate': () => ok({ taskId: 't1' }) });
    const request: GenerateRequestInput = { prompt: 'a dog in a park', model: 'veo3', seeds: 12345 };

    const result = await client.generate(request, { idempotencyKey: 'retry-1' });

    expect(result).toEqual({ taskId: 't1' });
    const seen = api.requests[0];
    expect(seen?.body).toEqual(request);
    expect(seen?.headers).toMatchObject({
      authorization: `Bearer ${KEY}`,
      'content-type': 'application/json',
      'idempotency-key': 'retry-1',
    });
  });

  it("maps an error envelope to VeoApiError carrying the API's code, msg and data", async () => {
    const { client } = await clientFor({
      'POST /api/v1/veo/generate': () => fail(422, 'seeds must be an integer between 10000 and 99999'),
      'GET /api/v1/chat/credit': () => fail(401, 'You do not have access permissions'),
    });

    const invalid = await client.generate({ prompt: 'x', seeds: 5 }).catch((e: unknown) => e);
    const unauthorized = await client.credit().catch((e: unknown) => e);

    expect(invalid).toBeInstanceOf(VeoApiError);
    expect(invalid).toMatchObject({
      code: 422,
      msg: 'seeds must be an integer between 10000 and 99999',
      message: 'seeds must be an integer between 10000 and 99999',
      data: null,
    });
    expect(unauthorized).toMatchObject({ code: 401, msg: 'You do not have access permissions' });
  });

  it("reports a body that is not an envelope (a proxy's error page) with the HTTP status", async () => {
    const { client } = await clientFor({
      'GET /api/v1/chat/credit': () => ({ status: 502, text: '<html>Bad Gateway</html>' }),
    });

    const error = await client.credit().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(VeoApiError);
    expect(error).toMatchObject({ code: 502, data: null });
    expect((error as VeoApiError).msg).toContain('Bad Gateway');
  });

  it('treats HTTP 200 with an error code in the body as an error, as kie.ai sometimes answers', async () => {
    const { client } = await clientFor({
      'GET /api/v1/chat/credit': () => ({
        status: 200,
        json: { code: 402, msg: 'Credits insufficient', data: null },
      }),
    });

    await expect(client.credit()).rejects.toMatchObject({ code: 402, msg: 'Credits insufficient' });
  });

  it('reads record-info and credit, with a base URL given with or without /api/v1', async () => {
    const record = fakeRecord('succeeded', { taskId: 'abc_123' });
    const { client, api } = await clientFor(
      {
        'GET /api/v1/veo/record-info': () => ok(record),
        'GET /api/v1/chat/credit': () => ok(99),
      },
      '/api/v1/',
    );

    expect(await client.recordInfo('abc_123')).toEqual(record);
    expect(await client.credit()).toBe(99);
    expect(api.requests[0]?.query).toEqual({ taskId: 'abc_123' });
  });

  it('get1080p: the 400 "processing" answer is a state, then the URL; other errors still throw', async () => {
    const processing = '1080P is processing. It should be ready in 1-2 minutes.';
    const { client, api } = await clientFor({
      'GET /api/v1/veo/get-1080p-video': sequence(
        fail(400, processing),
        ok({ resultUrl: 'http://x/1080p.mp4' }),
        fail(422, 'record status is not success'),
      ),
    });

    expect(await client.get1080p('t1')).toEqual({ ready: false, msg: processing });
    expect(await client.get1080p('t1', 1)).toEqual({ ready: true, resultUrl: 'http://x/1080p.mp4' });
    await expect(client.get1080p('t1')).rejects.toMatchObject({
      code: 422,
      msg: 'record status is not success',
    });
    expect(api.requests.map((r) => r.query)).toEqual([
      { taskId: 't1', index: '0' },
      { taskId: 't1', index: '1' },
      { taskId: 't1', index: '0' },
    ]);
  });

  it('get4k: started, already running and already made are results; other 422s throw', async () => {
    const { client, api } = await clientFor({
      'POST /api/v1/veo/get-4k-video': sequence(
        ok({ taskId: 't1', resultUrls: null, imageUrls: null }),
        fail(422, '4k is processing. It should be ready in 5-10 minutes.'),
        fail(422, 'The video has been generated successfully', {
          taskId: 't1',
          resultUrls: ['http://x/4k.mp4'],
          imageUrls: null,
        }),
        fail(422, 'record status is not success'),
      ),
    });

    expect(
      await client.get4k({ taskId: 't1', index: 0, callBackUrl: 'https://example.com/cb' }),
    ).toMatchObject({
      status: 'started',
      resultUrls: null,
    });
    expect(await client.get4k({ taskId: 't1' })).toMatchObject({ status: 'processing', resultUrls: null });
    expect(await client.get4k({ taskId: 't1' })).toMatchObject({
      status: 'ready',
      resultUrls: ['http://x/4k.mp4'],
    });
    await expect(client.get4k({ taskId: 't1' })).rejects.toBeInstanceOf(VeoApiError);
    expect(api.requests[0]?.body).toEqual({ taskId: 't1', index: 0, callBackUrl: 'https://example.com/cb' });
  });

  it('extend posts the body as given and returns the new taskId', async () => {
    const { client, api } = await clientFor({ 'POST /api/v1/veo/extend': () => ok({ taskId: 'ext1' }) });

    expect(await client.extend({ taskId: 't1', prompt: 'the dog jumps', model: 'quality' })).toEqual({
      taskId: 'ext1',
    });
    expect(api.requests[0]?.body).toEqual({ taskId: 't1', prompt: 'the dog jumps', model: 'quality' });
  });

  it("types requests from the API's zod schema: fields, enums and null for an absent field", () => {
    expectTypeOf<GenerateRequestInput['prompt']>().toEqualTypeOf<string>();
    expectTypeOf<GenerateRequestInput['model']>().toEqualTypeOf<
      'veo3' | 'veo3_fast' | 'veo3_lite' | null | undefined
    >();
    expectTypeOf<GenerateRequestInput['aspectRatio']>().toEqualTypeOf<
      '16:9' | '9:16' | 'Auto' | null | undefined
    >();
    expectTypeOf<GenerateRequestInput['imageUrls']>().toEqualTypeOf<string[] | null | undefined>();
    expectTypeOf<GenerateRequestInput['seeds']>().toEqualTypeOf<number | null | undefined>();
    expectTypeOf<{ prompt: string }>().toExtend<GenerateRequestInput>();
    expectTypeOf<{ model: 'veo3' }>().not.toExtend<GenerateRequestInput>();
    expectTypeOf<{ prompt: string; model: 'veo4' }>().not.toExtend<GenerateRequestInput>();
  });
});

describe('VeoClient waiting', () => {
  it('polls record-info, reporting elapsed time and state, until the task ends', async () => {
    const { client } = await clientFor({
      'GET /api/v1/veo/record-info': sequence(
        ok(fakeRecord('queued')),
        ok(fakeRecord('submitted')),
        ok(fakeRecord('succeeded')),
      ),
    });
    const seen: WaitProgress[] = [];

    const record = await client.waitForTask('t1', { intervalMs: 20, onProgress: (p) => seen.push(p) });

    expect(record.successFlag).toBe(1);
    expect(seen.map((p) => p.state)).toEqual(['waiting', 'waiting', 'success']);
    expect(seen.map((p) => p.taskId)).toEqual(['t1', 't1', 't1']);
    const elapsed = seen.map((p) => p.elapsedMs);
    expect(elapsed).toEqual([...elapsed].sort((a, b) => a - b));
    expect(elapsed[2]).toBeGreaterThanOrEqual(35);
  });

  it("returns a failed task's record instead of throwing", async () => {
    const failed = fakeRecord('failed', {
      task: { errorCode: 501, errorMessage: 'Generation failed: boom' },
    });
    const { client } = await clientFor({ 'GET /api/v1/veo/record-info': () => ok(failed) });

    const record = await client.waitForTask('t1', { intervalMs: 10 });

    expect(record).toMatchObject({
      successFlag: 2,
      state: 'fail',
      errorCode: 501,
      errorMessage: 'Generation failed: boom',
    });
  });

  it('gives up after timeoutMs with VeoWaitTimeoutError naming the last state', async () => {
    const { client, api } = await clientFor({
      'GET /api/v1/veo/record-info': () => ok(fakeRecord('queued')),
    });
    const started = performance.now();

    const error = await client.waitForTask('t1', { intervalMs: 20, timeoutMs: 120 }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(VeoWaitTimeoutError);
    expect(error).toMatchObject({ taskId: 't1', lastState: 'waiting' });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(api.requests.length).toBeGreaterThanOrEqual(3);
  });

  it('polls through transient trouble (503, 429) but stops at once on a 4xx answer', async () => {
    const { client } = await clientFor({
      'GET /api/v1/veo/record-info': sequence(
        fail(503, 'Service Unavailable'),
        fail(429, 'Too many requests'),
        ok(fakeRecord('succeeded')),
      ),
    });
    const seen: WaitProgress[] = [];

    const record = await client.waitForTask('t1', { intervalMs: 10, onProgress: (p) => seen.push(p) });

    expect(record.successFlag).toBe(1);
    expect(seen.map((p) => (p.error as VeoApiError | undefined)?.code)).toEqual([503, 429, undefined]);

    await api?.stop();
    const { client: other } = await clientFor({
      'GET /api/v1/veo/record-info': () => fail(422, 'record is null'),
    });
    await expect(other.waitForTask('nope', { intervalMs: 10 })).rejects.toMatchObject({
      code: 422,
      msg: 'record is null',
    });
  });

  it('keeps polling while the API cannot be reached, until the timeout', async () => {
    const { client } = await clientFor({});
    await api?.stop(); // nothing listens on that port any more
    const seen: WaitProgress[] = [];

    const error = await client
      .waitForTask('t1', { intervalMs: 10, timeoutMs: 80, onProgress: (p) => seen.push(p) })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(VeoWaitTimeoutError);
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every((p) => p.error instanceof TypeError)).toBe(true);
  });

  it('stops waiting when its signal is aborted', async () => {
    const { client } = await clientFor({ 'GET /api/v1/veo/record-info': () => ok(fakeRecord('queued')) });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);

    await expect(
      client.waitForTask('t1', { intervalMs: 1000, signal: controller.signal }),
    ).rejects.toMatchObject({
      name: 'AbortError',
    });
  });

  it('waitFor1080p asks until the rendition is ready and returns its URL', async () => {
    const { client, api } = await clientFor({
      'GET /api/v1/veo/get-1080p-video': sequence(
        fail(400, '1080P is processing. It should be ready in 1-2 minutes.'),
        fail(400, '1080P is processing. It should be ready in 1-2 minutes.'),
        ok({ resultUrl: 'http://x/1080p.mp4' }),
      ),
    });
    const states: string[] = [];

    const url = await client.waitFor1080p('t1', {
      index: 0,
      intervalMs: 10,
      onProgress: (p) => states.push(p.state),
    });

    expect(url).toBe('http://x/1080p.mp4');
    expect(states).toEqual(['processing', 'processing', 'ready']);
    expect(api.requests).toHaveLength(3);
  });

  it("waitFor4k polls record-info's renditions until the 4K one is ready or failed", async () => {
    const rendition = (status: string, resultUrl: string | null = null) => [
      {
        resolution: '1080p',
        index: 0,
        status: 'ready',
        resultUrl: 'http://x/1080p.mp4',
        made: 'upscaled' as const,
      },
      { resolution: '4k', index: 0, status, resultUrl, made: 'upscaled' as const },
    ];
    const { client } = await clientFor({
      'GET /api/v1/veo/record-info': sequence(
        ok(fakeRecord('succeeded')),
        ok(fakeRecord('succeeded', { renditions: rendition('processing') })),
        ok(fakeRecord('succeeded', { renditions: rendition('ready', 'http://x/4k.mp4') })),
        ok(fakeRecord('succeeded', { renditions: rendition('failed') })),
      ),
    });
    const states: string[] = [];

    const ready = await client.waitFor4k('t1', { intervalMs: 10, onProgress: (p) => states.push(p.state) });
    const failed = await client.waitFor4k('t1', { intervalMs: 10 });

    expect(ready).toEqual({
      resolution: '4k',
      index: 0,
      status: 'ready',
      resultUrl: 'http://x/4k.mp4',
      made: 'upscaled',
    });
    expect(states).toEqual(['starting', 'processing', 'ready']);
    expect(failed.status).toBe('failed');
  });
});

describe('VeoClient download', () => {
  it('streams the video to the file, creating its folder, without sending the API key', async () => {
    const bytes = Buffer.concat([
      Buffer.from([0, 0, 0, 0x18]),
      Buffer.from('ftypmp42'),
      Buffer.alloc(64 * 1024, 7),
    ]);
    const { client, api } = await clientFor({ 'GET /videos/v.mp4': () => ({ status: 200, bytes }) });
    const path = join(dir, 'nested', 'out', 'v.mp4');

    const saved = await client.download(`${api.url}/videos/v.mp4?X-Amz-Signature=abc`, path);

    expect(saved).toEqual({ path, bytes: bytes.length });
    expect(readFileSync(path).equals(bytes)).toBe(true);
    // Presigned URLs carry their own signature; S3 refuses a second auth mechanism.
    expect(api.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('throws VeoDownloadError on a non-2xx answer and leaves no file behind', async () => {
    const { client, api } = await clientFor({
      'GET /videos/v.mp4': () => ({ status: 403, text: '<Error>AccessDenied</Error>' }),
    });
    const path = join(dir, 'v.mp4');

    await expect(client.download(`${api.url}/videos/v.mp4`, path)).rejects.toMatchObject({
      name: 'VeoDownloadError',
      status: 403,
    });
    await expect(client.download(`${api.url}/videos/v.mp4`, path)).rejects.toBeInstanceOf(VeoDownloadError);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}.part`)).toBe(false);
  });
});
