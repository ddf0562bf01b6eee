import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mp4Info } from '../../../simulator/mp4-info';
import { type Simulator, startSimulator } from '../../../simulator/server';
import {
  decoded,
  failure,
  lastRequest,
  pngImage,
  settle,
  sourceVideo,
} from '../../../test/support/providers';
import { UpstreamUnavailableError } from '../../core/errors';
import type { SourceImage, UpstreamRequest } from '../../core/ports';
import { GeminiProvider } from './gemini-provider';

const API_KEY = 'gemini-test-key-0123456789';
const models = { veo3: 'veo-3.1-generate-preview', veo3_fast: 'veo-3.1-fast-generate-preview' };
const sample9x16 = readFileSync(new URL('../../../simulator/assets/sample-9x16.mp4', import.meta.url));

const red = pngImage(2, 1, [255, 0, 0]);
const green = pngImage(1, 2, [0, 255, 0]);
const blue = pngImage(2, 2, [0, 0, 255]);
const b64 = (i: SourceImage) => i.bytes.toString('base64');

const request: UpstreamRequest = {
  taskId: 't',
  prompt: 'a cat',
  model: 'veo3_fast',
  generationType: 'TEXT_2_VIDEO',
  aspectRatio: '9:16',
  seed: 12345,
  imageUrls: [],
  images: [],
};

let simulator: Simulator;
let provider: GeminiProvider;

beforeAll(async () => {
  simulator = await startSimulator({ latencyMs: 150, apiKey: API_KEY });
  provider = new GeminiProvider({ name: 'gemini', baseUrl: simulator.url, apiKey: API_KEY, models });
});
afterAll(() => simulator.stop());

const lastSubmit = () => lastRequest(simulator, 'gemini', 'submit');

describe('GeminiProvider against the simulator', () => {
  it('submits text-to-video with the key, polls until done and downloads the 9:16 sample', async () => {
    const operation = await provider.submit(request);
    expect(operation).toMatch(/^models\/veo-3\.1-fast-generate-preview\/operations\/.+/);
    const submit = lastSubmit();
    expect(submit.path).toBe('/v1beta/models/veo-3.1-fast-generate-preview:predictLongRunning');
    expect(submit.auth).toBe('valid');
    expect(submit.headers['x-goog-api-key']).toBe('<redacted>');
    expect(submit.body).toEqual({
      instances: [{ prompt: 'a cat' }],
      parameters: { aspectRatio: '9:16', resolution: '720p', durationSeconds: 8, sampleCount: 1 },
    });

    expect(await provider.poll(operation)).toEqual({ state: 'pending' });
    const status = await settle(provider, operation);
    if (status.state !== 'done') throw new Error(`not done: ${JSON.stringify(status)}`);
    expect(status.videos[0]).toMatch(/\/v1beta\/files\/[^/]+:download\?alt=media$/);
    const video = await provider.download(status.videos[0] ?? '');
    expect(video.contentType).toBe('video/mp4');
    const bytes = await buffer(video.body);
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(bytes.equals(sample9x16)).toBe(true);
    const download = simulator.requests.filter((r) => r.kind === 'download').at(-1);
    expect(download?.auth).toBe('valid');
  });

  it('fetches its key from the secret before a submit, once', async () => {
    let fetches = 0;
    const lazy = new GeminiProvider({
      name: 'gemini',
      baseUrl: simulator.url,
      apiKey: async () => {
        fetches++;
        return API_KEY;
      },
      models,
    });
    await lazy.readyCredentials();
    expect(fetches).toBe(1);
    await lazy.submit(request);
    expect(fetches).toBe(1);
  });

  it('sends one image as instances[0].image', async () => {
    await provider.submit({
      ...request,
      aspectRatio: '16:9',
      generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO',
      imageUrls: ['https://img.test/a.png'],
      images: [red],
    });
    expect(lastSubmit().body).toEqual({
      instances: [{ prompt: 'a cat', image: { bytesBase64Encoded: b64(red), mimeType: 'image/png' } }],
      parameters: { aspectRatio: '16:9', resolution: '720p', durationSeconds: 8, sampleCount: 1 },
    });
  });

  it('sends the first and last frames as image and lastFrame', async () => {
    await provider.submit({
      ...request,
      model: 'veo3',
      generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO',
      imageUrls: ['https://img.test/a.png', 'https://img.test/b.png'],
      images: [red, green],
    });
    const submit = lastSubmit();
    expect(submit.path).toBe('/v1beta/models/veo-3.1-generate-preview:predictLongRunning');
    expect(submit.body).toEqual({
      instances: [
        {
          prompt: 'a cat',
          image: { bytesBase64Encoded: b64(red), mimeType: 'image/png' },
          lastFrame: { bytesBase64Encoded: b64(green), mimeType: 'image/png' },
        },
      ],
      parameters: { aspectRatio: '9:16', resolution: '720p', durationSeconds: 8, sampleCount: 1 },
    });
  });

  it('sends REFERENCE_2_VIDEO images as asset reference images', async () => {
    const operation = await provider.submit({
      ...request,
      aspectRatio: '16:9',
      generationType: 'REFERENCE_2_VIDEO',
      imageUrls: ['https://img.test/a.png', 'https://img.test/b.png', 'https://img.test/c.png'],
      images: [red, green, blue],
    });
    expect(lastSubmit().body).toEqual({
      instances: [
        {
          prompt: 'a cat',
          referenceImages: [red, green, blue].map((i) => ({
            image: { bytesBase64Encoded: b64(i), mimeType: 'image/png' },
            referenceType: 'asset',
          })),
        },
      ],
      parameters: { aspectRatio: '16:9', resolution: '720p', durationSeconds: 8, sampleCount: 1 },
    });
    expect((await settle(provider, operation)).state).toBe('done');
  });

  it('extends a video sent inline (encodedVideo) at 720p, polls it done and downloads it', async () => {
    const video = sourceVideo('gemini source clip');
    const hd = new GeminiProvider({
      name: 'gemini',
      baseUrl: simulator.url,
      apiKey: API_KEY,
      models,
      resolution: '1080p', // generations only: the Gemini API extends at 720p
    });
    const operation = await hd.submit({
      ...request,
      aspectRatio: '16:9',
      prompt: 'the cat jumps off the sofa',
      extend: { video },
    });
    expect(operation).toMatch(/^models\/veo-3\.1-fast-generate-preview\/operations\/.+/);
    const submit = lastSubmit();
    expect(submit.path).toBe('/v1beta/models/veo-3.1-fast-generate-preview:predictLongRunning');
    expect(submit.auth).toBe('valid');
    const body = submit.body as { instances: { video: { encodedVideo: string } }[] };
    expect(body).toEqual({
      instances: [
        {
          prompt: 'the cat jumps off the sofa',
          video: { encodedVideo: expect.any(String), encoding: 'video/mp4' },
        },
      ],
      parameters: { aspectRatio: '16:9', resolution: '720p', durationSeconds: 8, sampleCount: 1 },
    });
    expect(decoded(body.instances[0]?.video.encodedVideo).equals(video.bytes)).toBe(true);

    const status = await settle(hd, operation);
    if (status.state !== 'done') throw new Error(`not done: ${JSON.stringify(status)}`);
    // Veo's extension is the source (8 s here: the fixture has no length of its own) and 7 s more, at 720p.
    const bytes = await buffer((await hd.download(status.videos[0] ?? '')).body);
    const info = mp4Info(bytes);
    expect(info).toMatchObject({ width: 1280, height: 720, hasAudio: true });
    expect(info?.durationSeconds).toBeCloseTo(15, 0);
  });

  it('names the source video by its URI when the API refuses it inline', async () => {
    const uriOnly = await startSimulator({ latencyMs: 100, apiKey: API_KEY, geminiInlineVideo: false });
    try {
      const p = new GeminiProvider({ name: 'gemini', baseUrl: uriOnly.url, apiKey: API_KEY, models });
      const source = await p.submit(request);
      const sourceStatus = await settle(p, source);
      if (sourceStatus.state !== 'done') throw new Error('source not done');
      const video = sourceVideo('stored original');
      const operation = await p.submit({
        ...request,
        prompt: 'more cat',
        extend: { video, sourceOperation: source },
      });

      const submits = uriOnly.requests.filter((r) => r.kind === 'submit').slice(-2);
      expect(submits.map((r) => r.body)).toEqual([
        {
          instances: [
            {
              prompt: 'more cat',
              video: { encodedVideo: video.bytes.toString('base64'), encoding: 'video/mp4' },
            },
          ],
          parameters: { aspectRatio: '9:16', resolution: '720p', durationSeconds: 8, sampleCount: 1 },
        },
        {
          instances: [{ prompt: 'more cat', video: { uri: sourceStatus.videos[0] } }],
          parameters: { aspectRatio: '9:16', resolution: '720p', durationSeconds: 8, sampleCount: 1 },
        },
      ]);
      const status = await settle(p, operation);
      if (status.state !== 'done') throw new Error(`not done: ${JSON.stringify(status)}`);
      // Longer than its source: the source's 8 seconds and 7 more.
      const info = mp4Info(await buffer((await p.download(status.videos[0] ?? '')).body));
      expect(info).toMatchObject({ width: 720, height: 1280 });
      expect(info?.durationSeconds).toBeCloseTo(15, 0);

      // Without a source operation that still shows its video, the refusal stands (permanent).
      const refused = await failure(p.submit({ ...request, extend: { video } }));
      expect(refused).not.toBeInstanceOf(UpstreamUnavailableError);
      expect(refused.message).toContain('generated by Veo');
      const gone = await failure(
        p.submit({ ...request, extend: { video, sourceOperation: 'models/m/operations/unknown' } }),
      );
      expect(gone).not.toBeInstanceOf(UpstreamUnavailableError);
      expect(gone.message).toContain('generated by Veo');
    } finally {
      await uriOnly.stop();
    }
  });

  it('reports a content-filtered operation as rejected and an operation error as failed', async () => {
    const rejected = await settle(provider, await provider.submit({ ...request, prompt: 'x [reject]' }));
    const failed = await settle(provider, await provider.submit({ ...request, prompt: 'x [fail]' }));
    expect(rejected).toMatchObject({ state: 'rejected', reason: expect.stringContaining('violate') });
    expect(failed).toMatchObject({ state: 'failed', reason: expect.stringContaining('internal error') });
    const extend = { video: sourceVideo('clip') };
    const rejectedExtension = await settle(
      provider,
      await provider.submit({ ...request, prompt: 'more [reject]', extend }),
    );
    const failedExtension = await settle(
      provider,
      await provider.submit({ ...request, prompt: 'more [fail]', extend }),
    );
    expect(rejectedExtension).toMatchObject({
      state: 'rejected',
      reason: expect.stringContaining('violate'),
    });
    expect(failedExtension).toMatchObject({ state: 'failed' });
  });

  it('treats 429 and 503 on submit and poll as transient', async () => {
    simulator.injectFault({ status: 429, shape: 'gemini', kind: 'submit' });
    await expect(provider.submit(request)).rejects.toBeInstanceOf(UpstreamUnavailableError);
    const operation = await provider.submit(request);
    simulator.injectFault({ status: 503, shape: 'gemini', kind: 'poll' });
    await expect(provider.poll(operation)).rejects.toBeInstanceOf(UpstreamUnavailableError);
    expect(await provider.poll(operation)).toEqual({ state: 'pending' });
  });

  it('refuses a missing or wrong key as a permanent error that never echoes the key', async () => {
    const keyless = new GeminiProvider({ name: 'gemini', baseUrl: simulator.url, models });
    const wrong = new GeminiProvider({
      name: 'gemini',
      baseUrl: simulator.url,
      apiKey: 'wrong-key-999',
      models,
    });
    const missing = await failure(keyless.submit(request));
    const invalid = await failure(wrong.submit(request));
    expect(missing).toBeInstanceOf(Error);
    expect(missing).not.toBeInstanceOf(UpstreamUnavailableError);
    expect(missing.message).toContain('HTTP 403');
    expect(invalid).not.toBeInstanceOf(UpstreamUnavailableError);
    expect(invalid.message).toContain('API key not valid');
    expect(invalid.message).not.toContain('wrong-key-999');
    expect(
      simulator.requests
        .filter((r) => r.kind === 'submit')
        .slice(-2)
        .map((r) => r.auth),
    ).toEqual(['missing', 'invalid']);
  });

  it('sends the key only to its own origin, and accepts samples directly under response (relays)', async () => {
    let answer = { status: 200, body: {} as unknown };
    const seen: IncomingHttpHeaders[] = [];
    const relay = createServer((req, res) => {
      seen.push(req.headers);
      if (req.url?.startsWith('/video'))
        return res.writeHead(200, { 'content-type': 'video/mp4' }).end('mp4');
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
    try {
      answer = {
        status: 200,
        body: { done: true, response: { generatedSamples: [{ video: { uri: `${relayUrl}/video/1` } }] } },
      };
      const status = await provider.poll('models/m/operations/1').catch(() => undefined);
      expect(status).toBeUndefined(); // the operation is unknown to the simulator: 404
      const relayProvider = new GeminiProvider({ name: 'relay', baseUrl: relayUrl, apiKey: API_KEY, models });
      expect(await relayProvider.poll('models/m/operations/1')).toEqual({
        state: 'done',
        videos: [`${relayUrl}/video/1`],
      });
      expect(seen.at(-1)?.['x-goog-api-key']).toBe(API_KEY);
      // The simulator's provider downloading from the relay's origin must not hand over its key.
      await buffer((await provider.download(`${relayUrl}/video/1`)).body);
      expect(seen.at(-1)?.['x-goog-api-key']).toBeUndefined();
      await expect(relayProvider.poll('models/../../v1/other')).rejects.toThrow('malformed operation name');
      answer = { status: 400, body: { error: { code: 400, message: 'bad' } } };
      await expect(relayProvider.submit(request)).rejects.not.toBeInstanceOf(UpstreamUnavailableError);
      answer = {
        status: 200,
        body: { done: true, error: { code: 3, message: 'violates usage guidelines' } },
      };
      expect(await relayProvider.poll('models/m/operations/1')).toMatchObject({ state: 'rejected' });
    } finally {
      relay.close();
    }
  });
});

describe('GeminiProvider webhooks (dynamic, signed RS256 JWT, verified against the configured key set)', () => {
  /** Where the simulator pushes: records each delivery's headers and body, answers 200. */
  const received: { url: string; headers: Record<string, string | undefined>; body: string }[] = [];
  let receiver: Server;
  let receiverUrl: string;
  let other: Simulator;
  let pushing: GeminiProvider;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      void buffer(req).then((body) => {
        received.push({ url: req.url ?? '', headers: flat(req.headers), body: body.toString('utf8') });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/internal/upstream-callback`;
    other = await startSimulator({ latencyMs: 100 });
    pushing = new GeminiProvider({
      name: 'gemini',
      baseUrl: simulator.url,
      apiKey: API_KEY,
      models,
      push: {},
    });
  });
  afterAll(async () => {
    await other.stop();
    await new Promise((resolve) => receiver.close(resolve));
  });

  /** Submits with our push URL for `taskId` and waits for the simulator's delivery of its end. */
  async function pushFor(provider: GeminiProvider, taskId: string) {
    const pushUrl = `${receiverUrl}?taskId=${taskId}`;
    await provider.submit({ ...request, taskId, pushUrl });
    const started = Date.now();
    for (;;) {
      const push = received.find((r) => r.url.endsWith(`taskId=${taskId}`));
      if (push) return push;
      if (Date.now() - started > 10_000) throw new Error(`no push for ${taskId}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('asks for a webhook at our URL only when it pushes and the deployment has a push URL', async () => {
    const pushUrl = `${receiverUrl}?taskId=veo_a`;
    await pushing.submit({ ...request, taskId: 'veo_a', pushUrl });
    expect(lastSubmit().body).toMatchObject({
      webhookConfig: { uris: [pushUrl], userMetadata: { taskId: 'veo_a' } },
    });
    await pushing.submit(request);
    expect(lastSubmit().body).not.toHaveProperty('webhookConfig');
    await provider.submit({ ...request, pushUrl });
    expect(lastSubmit().body).not.toHaveProperty('webhookConfig');
  });

  it("accepts the simulator's genuine video.generated push, as Google signs it", async () => {
    const push = await pushFor(pushing, 'veo_genuine');
    expect(JSON.parse(push.body)).toMatchObject({
      type: 'video.generated',
      data: { id: expect.stringMatching(/\/operations\//) },
      user_metadata: { taskId: 'veo_genuine' },
    });
    expect(push.headers['webhook-id']).toMatch(/^msg_/);
    expect(await pushing.verifyPush('', push.headers)).toBe(true);
    // Also as one entry of several (a key rotation), behind a version prefix.
    const token = push.headers['webhook-signature'];
    const rotated = { ...push.headers, 'webhook-signature': `v1,bm90LWEtand0 v1a,${token}` };
    expect(await pushing.verifyPush('', rotated)).toBe(true);
    // Without webhooks configured, the same push is not ours to take.
    expect(await provider.verifyPush('', push.headers)).toBe(false);
  });

  it('refuses a forged, an old, a tampered and a foreign push, and one missing a header', async () => {
    const genuine = (await pushFor(pushing, 'veo_refused')).headers;
    const now = Math.floor(Date.now() / 1000);
    // A key of our own, claiming the simulator's key id.
    const { privateKey } = await generateKeyPair('RS256');
    const kid = decodeProtectedHeader(genuine['webhook-signature'] ?? '').kid;
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(privateKey);
    expect(await pushing.verifyPush('', { ...genuine, 'webhook-signature': forged })).toBe(false);
    // Older than the 5 minutes the docs allow.
    expect(await pushing.verifyPush('', { ...genuine, 'webhook-timestamp': String(now - 301) })).toBe(false);
    const [head, , signature] = (genuine['webhook-signature'] ?? '').split('.');
    // The simulator's claims swapped for a longer life: the signature no longer covers them.
    const widened = Buffer.from(JSON.stringify({ exp: now + 86_400 })).toString('base64url');
    expect(
      await pushing.verifyPush('', { ...genuine, 'webhook-signature': `${head}.${widened}.${signature}` }),
    ).toBe(false);
    // Genuinely signed, by another key set (another simulator, standing for another issuer).
    const foreign = await pushFor(
      new GeminiProvider({ name: 'gemini', baseUrl: other.url, models, push: {} }),
      'veo_foreign',
    );
    expect(await pushing.verifyPush('', foreign.headers)).toBe(false);
    const { 'webhook-id': _, ...noId } = genuine;
    expect(await pushing.verifyPush('', noId)).toBe(false);
    // Each refusal was the change's doing: the genuine headers still verify.
    expect(await pushing.verifyPush('', genuine)).toBe(true);
  });
});

function flat(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]));
}
