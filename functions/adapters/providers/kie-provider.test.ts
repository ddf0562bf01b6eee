import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../../simulator/server';
import { failure, lastRequest, settle, sourceVideo } from '../../../test/support/providers';
import { UpstreamUnavailableError } from '../../core/errors';
import type { UpstreamRequest } from '../../core/ports';
import { KieProvider, verifyKieSignature } from './kie-provider';

const KIE_KEY = 'kie-test-key-abcdef';
const WEBHOOK_SECRET = 'kie-webhook-hmac-key';

interface Push {
  headers: IncomingHttpHeaders;
  body: { code: number; msg: string; data: { taskId: string; info?: { resultUrls: string[] } } };
}

let simulator: Simulator;
let provider: KieProvider;
let receiver: Server;
let receiverUrl: string;
const pushes: Push[] = [];

const request: UpstreamRequest = {
  taskId: 'ours-1',
  prompt: 'a paper boat on a river',
  model: 'veo3_fast',
  generationType: 'TEXT_2_VIDEO',
  aspectRatio: '16:9',
  seed: 24680,
  imageUrls: [],
  images: [],
};

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      pushes.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/internal/upstream-callback`;
  simulator = await startSimulator({ latencyMs: 150, kieApiKey: KIE_KEY, kieWebhookSecret: WEBHOOK_SECRET });
  provider = new KieProvider({ baseUrl: simulator.url, apiKey: KIE_KEY, webhookSecret: WEBHOOK_SECRET });
});
afterAll(async () => {
  await simulator.stop();
  receiver.close();
});

async function pushFor(taskId: string): Promise<Push> {
  for (let i = 0; i < 100; i++) {
    const push = pushes.find((p) => p.body.data.taskId === taskId);
    if (push) return push;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no push for ${taskId}`);
}

const lastSubmit = () => lastRequest(simulator, 'kie', 'submit');

describe('KieProvider against the simulator', () => {
  it('submits with our callback URL, is pushed a signed result, polls it done and downloads it', async () => {
    const callbackUrl = `${receiverUrl}?taskId=ours-1`;
    const operation = await provider.submit({ ...request, pushUrl: callbackUrl });
    expect(operation).toMatch(/^[0-9a-f]{32}$/);
    const submit = lastSubmit();
    expect(submit.path).toBe('/api/v1/veo/generate');
    expect(submit.headers.authorization).toBe('Bearer <redacted>');
    expect(submit.auth).toBe('valid');
    expect(submit.body).toEqual({
      prompt: 'a paper boat on a river',
      model: 'veo3_fast',
      generationType: 'TEXT_2_VIDEO',
      aspectRatio: '16:9',
      seeds: 24680,
      enableTranslation: false,
      callBackUrl: callbackUrl,
    });

    const push = await pushFor(operation);
    expect(push.body).toMatchObject({ code: 200, msg: 'Veo3.1 video generated successfully.' });
    const timestamp = push.headers['x-webhook-timestamp'] as string;
    const signature = push.headers['x-webhook-signature'] as string;
    expect(verifyKieSignature(WEBHOOK_SECRET, operation, timestamp, signature)).toBe(true);
    expect(
      await provider.verifyPush(operation, {
        'X-Webhook-Timestamp': timestamp,
        'X-Webhook-Signature': signature,
      }),
    ).toBe(true);

    const status = await settle(provider, operation);
    if (status.state !== 'done') throw new Error(`not done: ${JSON.stringify(status)}`);
    expect(status.videos).toEqual(push.body.data.info?.resultUrls);
    const video = await provider.download(status.videos[0] ?? '');
    const bytes = await buffer(video.body);
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    const poll = simulator.requests.filter((r) => r.kind === 'poll').at(-1);
    expect(poll?.path).toBe(`/api/v1/veo/record-info?taskId=${operation}`);
    const guarded = new KieProvider({
      baseUrl: simulator.url,
      apiKey: KIE_KEY,
      videoUrlGuard: () => 'loopback',
    });
    await expect(guarded.download(status.videos[0] ?? '')).rejects.toThrow('video URL refused: loopback');
    await expect(provider.download('file:///etc/passwd')).rejects.toThrow('not an http(s) video URL');
    // kie's CDN links are public: our key is not sent there.
    expect(
      simulator.requests.filter((r) => r.kind === 'download').at(-1)?.headers.authorization,
    ).toBeUndefined();
  });

  it('extends a kie task through its extend API and hands back the stitched video', async () => {
    const source = await provider.submit({ ...request, aspectRatio: '9:16' });
    expect((await settle(provider, source)).state).toBe('done');
    const callbackUrl = `${receiverUrl}?taskId=ours-2`;
    const operation = await provider.submit({
      ...request,
      taskId: 'ours-2',
      prompt: 'the boat drifts under a bridge',
      model: 'veo3',
      seed: 13579,
      pushUrl: callbackUrl,
      extend: { video: sourceVideo('kie keeps its own copy'), sourceOperation: source },
    });
    const submit = lastSubmit();
    expect(submit.path).toBe('/api/v1/veo/extend');
    expect(submit.auth).toBe('valid');
    // kie continues its own task: the video itself is not sent.
    expect(submit.body).toEqual({
      taskId: source,
      prompt: 'the boat drifts under a bridge',
      model: 'quality',
      seeds: 13579,
      callBackUrl: callbackUrl,
    });

    const push = await pushFor(operation);
    expect(push.body).toMatchObject({ code: 200, data: { taskId: operation } });
    const status = await settle(provider, operation);
    if (status.state !== 'done') throw new Error(`not done: ${JSON.stringify(status)}`);
    expect(status.videos).toEqual([`${simulator.url}/kie/files/${operation}-full.mp4`]);
    const bytes = await buffer((await provider.download(status.videos[0] ?? '')).body);
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');

    await provider.submit({ ...request, extend: { video: sourceVideo('x'), sourceOperation: source } });
    expect(lastSubmit().body).toEqual({
      taskId: source,
      prompt: request.prompt,
      model: 'fast',
      seeds: 24680,
    });
  });

  it('fails an extension of a task kie does not know, or of no kie task, permanently', async () => {
    const video = sourceVideo('x');
    const unknown = await failure(
      provider.submit({ ...request, extend: { video, sourceOperation: '0123456789abcdef0123456789abcdef' } }),
    );
    expect(unknown).not.toBeInstanceOf(UpstreamUnavailableError);
    expect(unknown.message).toBe(
      'kie: cannot extend kie task 0123456789abcdef0123456789abcdef: record is null (code 422)',
    );
    const notKie = await failure(provider.submit({ ...request, extend: { video } }));
    expect(notKie).not.toBeInstanceOf(UpstreamUnavailableError);
    expect(notKie.message).toContain('only a video kie generated can be extended');

    const source = await provider.submit(request);
    const early = await failure(provider.submit({ ...request, extend: { video, sourceOperation: source } }));
    expect(early.message).toContain('record status is not success');
    await settle(provider, source);
    const rejected = await provider.submit({
      ...request,
      prompt: 'more [reject]',
      extend: { video, sourceOperation: source },
    });
    expect(await settle(provider, rejected)).toMatchObject({ state: 'rejected' });
  });

  it('refuses tampered, mis-addressed, stale or unsigned pushes', async () => {
    const now = Date.now();
    const ts = String(Math.floor(now / 1000));
    const good = (await import('node:crypto'))
      .createHmac('sha256', WEBHOOK_SECRET)
      .update(`task-1.${ts}`)
      .digest('base64');
    expect(verifyKieSignature(WEBHOOK_SECRET, 'task-1', ts, good, now)).toBe(true);
    const tampered = `${good.slice(0, -2)}${good.at(-2) === 'A' ? 'B' : 'A'}=`;
    expect(verifyKieSignature(WEBHOOK_SECRET, 'task-1', ts, tampered, now)).toBe(false);
    expect(verifyKieSignature(WEBHOOK_SECRET, 'task-2', ts, good, now)).toBe(false);
    expect(verifyKieSignature('another-secret', 'task-1', ts, good, now)).toBe(false);
    expect(verifyKieSignature(WEBHOOK_SECRET, 'task-1', ts, good, now + 301_000)).toBe(false);
    expect(verifyKieSignature(WEBHOOK_SECRET, 'task-1', undefined, good, now)).toBe(false);
    expect(verifyKieSignature(WEBHOOK_SECRET, 'task-1', `${ts}.5`, good, now)).toBe(false);
    const noSecret = new KieProvider({ baseUrl: simulator.url, apiKey: KIE_KEY });
    expect(
      await noSecret.verifyPush('task-1', { 'x-webhook-timestamp': ts, 'x-webhook-signature': good }),
    ).toBe(false);
  });

  it('fetches its key from the secret before a submit, once', async () => {
    let fetches = 0;
    const lazy = new KieProvider({
      baseUrl: simulator.url,
      apiKey: async () => {
        fetches++;
        return KIE_KEY;
      },
    });
    await lazy.readyCredentials();
    expect(fetches).toBe(1);
    await lazy.submit(request);
    expect(fetches).toBe(1);
  });

  it('passes the original image URLs and the generation type', async () => {
    const imageUrls = ['https://img.test/a.png', 'https://img.test/b.png', 'https://img.test/c.png'];
    await provider.submit({ ...request, model: 'veo3_fast', generationType: 'REFERENCE_2_VIDEO', imageUrls });
    expect(lastSubmit().body).toMatchObject({
      generationType: 'REFERENCE_2_VIDEO',
      imageUrls,
      model: 'veo3_fast',
    });
    await provider.submit({
      ...request,
      model: 'veo3',
      aspectRatio: '9:16',
      generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO',
      imageUrls: imageUrls.slice(0, 2),
    });
    expect(lastSubmit().body).toEqual({
      prompt: 'a paper boat on a river',
      model: 'veo3',
      generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO',
      aspectRatio: '9:16',
      seeds: 24680,
      enableTranslation: false,
      imageUrls: imageUrls.slice(0, 2),
    });
  });

  it('maps successFlag 3 to rejected, 2 to failed, and pushes those outcomes too', async () => {
    const rejectedOp = await provider.submit({
      ...request,
      prompt: 'x [reject]',
      pushUrl: receiverUrl,
    });
    const failedOp = await provider.submit({ ...request, prompt: 'x [fail]' });
    expect(await settle(provider, rejectedOp)).toMatchObject({
      state: 'rejected',
      reason: expect.stringContaining('content policies'),
    });
    expect(await settle(provider, failedOp)).toMatchObject({ state: 'failed' });
    expect((await pushFor(rejectedOp)).body).toMatchObject({ code: 400, data: { taskId: rejectedOp } });
    expect(await provider.poll('0123456789abcdef0123456789abcdef')).toMatchObject({
      state: 'failed',
      reason: expect.stringContaining('record is null'),
    });
  });

  it('treats envelope or HTTP 429 and 5xx as transient, a wrong key as permanent', async () => {
    simulator.injectFault({ status: 429, shape: 'kie', kind: 'submit' });
    await expect(provider.submit(request)).rejects.toBeInstanceOf(UpstreamUnavailableError);
    simulator.injectFault({ status: 500, shape: 'kie', kind: 'poll' });
    await expect(provider.poll('0123456789abcdef0123456789abcdef')).rejects.toBeInstanceOf(
      UpstreamUnavailableError,
    );

    const envelopeOnly = await startSimulator({
      latencyMs: 150,
      kieApiKey: KIE_KEY,
      kieErrorStatus: 'envelope',
      quota: { kie: { limit: 1, windowMs: 60_000 } },
    });
    try {
      const p = new KieProvider({ baseUrl: envelopeOnly.url, apiKey: KIE_KEY });
      await p.submit(request);
      await expect(p.submit(request)).rejects.toBeInstanceOf(UpstreamUnavailableError);
      const wrong = new KieProvider({ baseUrl: envelopeOnly.url, apiKey: 'not-the-key' });
      const error = await failure(wrong.submit(request));
      expect(error).not.toBeInstanceOf(UpstreamUnavailableError);
      expect(error.message).toContain('code 401');
      expect(error.message).not.toContain('not-the-key');
    } finally {
      await envelopeOnly.stop();
    }
  });
});
