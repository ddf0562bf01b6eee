import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeServiceAccount, fakeServiceAccount } from '../../../simulator/fixtures';
import type { RouteKind } from '../../../simulator/http';
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
import { VertexProvider } from './vertex-provider';

const sample16x9 = readFileSync(new URL('../../../simulator/assets/sample-16x9.mp4', import.meta.url));
const modelPath = 'projects/sim-project/locations/us-central1/publishers/google/models';

const red = pngImage(2, 1, [255, 0, 0]);
const green = pngImage(1, 2, [0, 255, 0]);
const blue = pngImage(2, 2, [0, 0, 255]);
const asVeo = (i: SourceImage) => ({ bytesBase64Encoded: i.bytes.toString('base64'), mimeType: 'image/png' });

const request: UpstreamRequest = {
  taskId: 't',
  prompt: 'a lighthouse at dusk',
  model: 'veo3',
  generationType: 'TEXT_2_VIDEO',
  aspectRatio: '16:9',
  seed: 54321,
  imageUrls: [],
  images: [],
};
const parameters = (aspectRatio: string) => ({
  aspectRatio,
  seed: 54321,
  resolution: '720p',
  durationSeconds: 8,
  generateAudio: true,
  sampleCount: 1,
});

let simulator: Simulator;
let account: FakeServiceAccount;
let provider: VertexProvider;

/** The key as Google issues it, but with token_uri at the simulator (honoured: not a Google host). */
function keyWithTokenUri(sa: FakeServiceAccount, tokenUri: string): string {
  return JSON.stringify({ ...JSON.parse(sa.key), token_uri: tokenUri });
}

beforeAll(async () => {
  account = fakeServiceAccount();
  simulator = await startSimulator({ latencyMs: 150, vertexServiceAccount: account });
  provider = new VertexProvider({
    serviceAccountKey: keyWithTokenUri(account, `${simulator.url}/token`),
    region: 'us-central1',
    baseUrl: simulator.url,
  });
});
afterAll(() => simulator.stop());

const last = (kind: RouteKind) => lastRequest(simulator, 'vertex', kind);

describe('VertexProvider against the simulator', () => {
  it('gets a token from the token endpoint, submits with it as Bearer, and streams the inline video', async () => {
    const operation = await provider.submit(request);
    expect(operation).toMatch(new RegExp(`^${modelPath}/veo-3\\.1-generate-001/operations/.+`));

    const token = last('token');
    expect(token.body).toEqual({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: '<redacted>',
    });
    const submit = last('submit');
    expect(submit.path).toBe(`/v1/${modelPath}/veo-3.1-generate-001:predictLongRunning`);
    expect(submit.headers.authorization).toBe('Bearer <redacted>');
    expect(submit.auth).toBe('valid');
    expect(submit.body).toEqual({
      instances: [{ prompt: 'a lighthouse at dusk' }],
      parameters: parameters('16:9'),
    });

    const status = await settle(provider, operation);
    const poll = last('poll');
    expect(poll.path).toBe(`/v1/${modelPath}/veo-3.1-generate-001:fetchPredictOperation`);
    expect(poll.body).toEqual({ operationName: operation });
    if (status.state !== 'done') throw new Error(`not done: ${JSON.stringify(status)}`);
    expect(status.videos[0]).toMatch(/^data:video\/mp4;base64,/);
    const video = await provider.download(status.videos[0] ?? '');
    expect(video.contentType).toBe('video/mp4');
    const bytes = await buffer(video.body);
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(bytes.equals(sample16x9)).toBe(true);
    // One token served every call: google-auth-library caches it.
    expect(simulator.stats.tokens).toBe(1);
  });

  it('maps one image, first and last frames, and reference images (fast model, 9:16)', async () => {
    await provider.submit({ ...request, generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', images: [red] });
    expect(last('submit').body).toEqual({
      instances: [{ prompt: 'a lighthouse at dusk', image: asVeo(red) }],
      parameters: parameters('16:9'),
    });

    await provider.submit({
      ...request,
      model: 'veo3_fast',
      aspectRatio: '9:16',
      generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO',
      images: [red, green],
    });
    const firstLast = last('submit');
    expect(firstLast.path).toBe(`/v1/${modelPath}/veo-3.1-fast-generate-001:predictLongRunning`);
    expect(firstLast.body).toEqual({
      instances: [{ prompt: 'a lighthouse at dusk', image: asVeo(red), lastFrame: asVeo(green) }],
      parameters: parameters('9:16'),
    });

    await provider.submit({
      ...request,
      model: 'veo3_fast',
      generationType: 'REFERENCE_2_VIDEO',
      images: [red, green, blue],
    });
    expect(last('submit').body).toEqual({
      instances: [
        {
          prompt: 'a lighthouse at dusk',
          referenceImages: [red, green, blue].map((i) => ({ image: asVeo(i), referenceType: 'asset' })),
        },
      ],
      parameters: parameters('16:9'),
    });
  });

  it('extends a video: sends it inline with the prompt, 7 seconds at 720p, and downloads the result', async () => {
    const video = sourceVideo('vertex source clip');
    const hd = new VertexProvider({
      serviceAccountKey: account.key,
      tokenUrl: `${simulator.url}/token`,
      region: 'us-central1',
      baseUrl: simulator.url,
      resolution: '1080p', // generations only: Veo extends at 720p
    });
    const operation = await hd.submit({
      ...request,
      model: 'veo3_fast',
      aspectRatio: '9:16',
      prompt: 'the lighthouse beam sweeps the sea',
      extend: { video, sourceOperation: `${modelPath}/veo-3.1-generate-001/operations/source` },
    });
    expect(operation).toMatch(new RegExp(`^${modelPath}/veo-3\\.1-fast-generate-001/operations/.+`));

    const submit = last('submit');
    expect(submit.path).toBe(`/v1/${modelPath}/veo-3.1-fast-generate-001:predictLongRunning`);
    expect(submit.auth).toBe('valid');
    const body = submit.body as { instances: { video: { bytesBase64Encoded: string } }[] };
    expect(body).toEqual({
      instances: [
        {
          prompt: 'the lighthouse beam sweeps the sea',
          video: { bytesBase64Encoded: expect.any(String), mimeType: 'video/mp4' },
        },
      ],
      parameters: { ...parameters('9:16'), durationSeconds: 7 },
    });
    expect(decoded(body.instances[0]?.video.bytesBase64Encoded).equals(video.bytes)).toBe(true);

    const status = await settle(hd, operation);
    expect(last('poll').body).toEqual({ operationName: operation });
    if (status.state !== 'done') throw new Error(`not done: ${JSON.stringify(status)}`);
    // Veo's extension is the source (8 s here: the fixture has no length of its own) and 7 s more, at 720p.
    const info = mp4Info(await buffer((await hd.download(status.videos[0] ?? '')).body));
    expect(info).toMatchObject({ width: 720, height: 1280, hasAudio: true });
    expect(info?.durationSeconds).toBeCloseTo(15, 0);
  });

  it('reports an extension the filter rejects, and one whose video is not an MP4 as a permanent error', async () => {
    const extend = { video: sourceVideo('clip') };
    const rejected = await settle(
      provider,
      await provider.submit({ ...request, prompt: 'x [reject]', extend }),
    );
    expect(rejected).toMatchObject({ state: 'rejected', reason: expect.stringContaining('violate') });
    const notMp4 = { bytes: Buffer.from('GIF89a not a video'), mimeType: 'video/mp4' as const };
    const error = await failure(provider.submit({ ...request, extend: { video: notMp4 } }));
    expect(error).not.toBeInstanceOf(UpstreamUnavailableError);
    expect(error.message).toContain('HTTP 400: Unable to process input video');
    await expect(provider.submit({ ...request, images: [red], extend })).rejects.toThrow(
      'an extension takes no images',
    );
  });

  it('downloads from Cloud Storage when storageUri is set', async () => {
    const gcs = new VertexProvider({
      serviceAccountKey: account.key,
      tokenUrl: `${simulator.url}/token`,
      region: 'us-central1',
      baseUrl: simulator.url,
      storageBaseUrl: simulator.url,
      storageUri: 'gs://veo-out/renders/',
    });
    const status = await settle(gcs, await gcs.submit({ ...request, aspectRatio: '9:16' }));
    // Each task's videos in a folder of its own: what names the task in the bucket's notifications.
    expect((last('submit').body as { parameters: unknown }).parameters).toMatchObject({
      storageUri: 'gs://veo-out/renders/t/',
    });
    if (status.state !== 'done') throw new Error('not done');
    expect(status.videos[0]).toMatch(/^gs:\/\/veo-out\/renders\/t\/.+\/sample_0\.mp4$/);
    const bytes = await buffer((await gcs.download(status.videos[0] ?? '')).body);
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(last('download').auth).toBe('valid');
  });

  it('reports filtered results and safety blocks as rejected, operation errors as failed', async () => {
    const filtered = await settle(provider, await provider.submit({ ...request, prompt: 'x [reject]' }));
    const blocked = await settle(provider, await provider.submit({ ...request, prompt: 'x [blocked]' }));
    const failed = await settle(provider, await provider.submit({ ...request, prompt: 'x [fail]' }));
    expect(filtered).toMatchObject({ state: 'rejected', reason: expect.stringContaining('violate') });
    expect(blocked).toMatchObject({ state: 'rejected', reason: expect.stringContaining('Responsible AI') });
    expect(failed).toMatchObject({ state: 'failed', reason: expect.stringContaining('internal error') });
  });

  it('treats 429 (quota) and 503 as transient', async () => {
    simulator.injectFault({ status: 429, shape: 'vertex', kind: 'submit' });
    const quota = await failure(provider.submit(request));
    expect(quota).toBeInstanceOf(UpstreamUnavailableError);
    simulator.injectFault({ status: 503, shape: 'vertex', kind: 'poll' });
    await expect(provider.poll(`${modelPath}/veo-3.1-generate-001/operations/x`)).rejects.toBeInstanceOf(
      UpstreamUnavailableError,
    );
  });

  it('fails permanently, without echoing secrets, when the token endpoint refuses the key', async () => {
    const stranger = fakeServiceAccount(); // signed by a key the simulator does not know
    const refused = new VertexProvider({
      serviceAccountKey: stranger.key,
      tokenUrl: `${simulator.url}/token`,
      region: 'us-central1',
      baseUrl: simulator.url,
    });
    const error = await failure(refused.submit(request));
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(UpstreamUnavailableError);
    expect(error.message).toContain('Invalid JWT Signature');
    expect(error.message).not.toContain('PRIVATE KEY');

    const garbled = new VertexProvider({
      serviceAccountKey: '{"not":"a key"}',
      region: 'us-central1',
      baseUrl: simulator.url,
    });
    await expect(garbled.submit(request)).rejects.toThrow(/not a JSON key/);
  });

  it('readies its access token before a submit, so the submit itself asks the token endpoint nothing', async () => {
    const fresh = new VertexProvider({
      serviceAccountKey: account.key,
      tokenUrl: `${simulator.url}/token`,
      region: 'us-central1',
      baseUrl: simulator.url,
    });
    const tokens = simulator.stats.tokens;
    await fresh.readyCredentials();
    expect(simulator.stats.tokens).toBe(tokens + 1);
    await fresh.submit(request);
    expect(simulator.stats.tokens).toBe(tokens + 1);
  });

  it('resolves the key lazily (e.g. from Secrets Manager) and only once', async () => {
    let fetches = 0;
    const lazy = new VertexProvider({
      serviceAccountKey: async () => {
        fetches++;
        return account.key;
      },
      tokenUrl: `${simulator.url}/token`,
      region: 'us-central1',
      baseUrl: simulator.url,
    });
    await lazy.submit(request);
    await lazy.submit(request);
    expect(fetches).toBe(1);
  });
});

describe("VertexProvider's push (its bucket's notifications, through a Pub/Sub push subscription's OIDC token)", () => {
  const pushAccount = 'veo-push@sim-project.iam.gserviceaccount.com';
  /** The subscription's endpoint: records each delivery's headers and body, answers 200. */
  const received: { headers: Record<string, string | undefined>; body: unknown }[] = [];
  let receiver: Server;
  let endpoint: string;
  /** One simulator pushing as `pushAccount`, one as another account, each for the same endpoint. */
  let pushing: Simulator;
  let foreign: Simulator;

  const pushingProvider = (sim: Simulator, options: { audience?: string; account?: string } = {}) =>
    new VertexProvider({
      serviceAccountKey: account.key,
      tokenUrl: `${sim.url}/token`,
      region: 'us-central1',
      baseUrl: sim.url,
      storageBaseUrl: sim.url,
      storageUri: 'gs://veo-out/renders',
      push: {
        account: options.account ?? pushAccount,
        audience: options.audience ?? endpoint,
        jwksUrl: `${sim.url}/oauth2/v3/certs`,
      },
    });

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      void buffer(req).then((body) => {
        const headers = Object.fromEntries(
          Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]),
        );
        received.push({ headers, body: JSON.parse(body.toString('utf8')) });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/internal/upstream-callback`;
    const notifications = (serviceAccountEmail: string) => ({ endpoint, serviceAccountEmail });
    pushing = await startSimulator({
      latencyMs: 100,
      vertexServiceAccount: account,
      storageNotifications: notifications(pushAccount),
    });
    foreign = await startSimulator({
      latencyMs: 100,
      vertexServiceAccount: account,
      storageNotifications: notifications('someone-else@sim-project.iam.gserviceaccount.com'),
    });
  });
  afterAll(async () => {
    await Promise.all([pushing.stop(), foreign.stop()]);
    await new Promise((resolve) => receiver.close(resolve));
  });

  /** Submits task `taskId` through `provider` and waits for its notification. */
  async function notificationOf(provider: VertexProvider, taskId: string) {
    await provider.submit({ ...request, taskId });
    const started = Date.now();
    for (;;) {
      const push = received.find((r) => JSON.stringify(r.body).includes(`renders/${taskId}/`));
      if (push) return push;
      if (Date.now() - started > 10_000) throw new Error(`no notification for ${taskId}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('takes the notification of a video written in a task folder as that task, authentic by its token', async () => {
    const provider = pushingProvider(pushing);
    expect(provider.pushes).toBe(true);
    const push = await notificationOf(provider, 'veo_pushed');
    expect(push.headers.authorization).toMatch(/^Bearer /);
    expect(provider.pushedTask(push.body)).toBe('veo_pushed');
    expect(await provider.verifyPush('', push.headers)).toBe(true);
  });

  it("refuses another account's token, another audience, a tampered token, and one missing", async () => {
    const provider = pushingProvider(pushing);
    const genuine = (await notificationOf(provider, 'veo_genuine')).headers;
    // Genuinely signed (by the other simulator's keys), for another service account.
    const otherKeys = pushingProvider(foreign);
    const other = (await notificationOf(otherKeys, 'veo_other')).headers;
    expect(await otherKeys.verifyPush('', other)).toBe(false);
    // Our account's token, checked against a key set that did not sign it.
    expect(await otherKeys.verifyPush('', genuine)).toBe(false);
    // Our account, but a subscription whose tokens name another audience.
    expect(
      await pushingProvider(pushing, { audience: 'https://elsewhere.example' }).verifyPush('', genuine),
    ).toBe(false);
    const [head, payload, signature] = (genuine.authorization ?? '').slice('Bearer '.length).split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8'));
    const widened = Buffer.from(JSON.stringify({ ...claims, exp: claims.exp + 86_400 })).toString(
      'base64url',
    );
    const tampered = { authorization: `Bearer ${head}.${widened}.${signature}` };
    expect(await provider.verifyPush('', tampered)).toBe(false);
    expect(await provider.verifyPush('', {})).toBe(false);
    // Without a push configured, nothing is taken or verified.
    expect(await gcsOnly().verifyPush('', genuine)).toBe(false);
    // Each refusal was the change's doing: the genuine token still verifies.
    expect(await provider.verifyPush('', genuine)).toBe(true);
  });

  it('names a task only for a finished object in its folder of our bucket', async () => {
    const provider = pushingProvider(pushing);
    const notification = (attributes: Record<string, string>) => ({
      message: {
        attributes: {
          eventType: 'OBJECT_FINALIZE',
          bucketId: 'veo-out',
          objectId: 'renders/veo_a/op/sample_0.mp4',
          ...attributes,
        },
      },
    });
    expect(provider.pushedTask(notification({}))).toBe('veo_a');
    expect(provider.pushedTask(notification({ bucketId: 'other' }))).toBeUndefined();
    expect(
      provider.pushedTask(notification({ objectId: 'elsewhere/veo_a/op/sample_0.mp4' })),
    ).toBeUndefined();
    expect(provider.pushedTask(notification({ eventType: 'OBJECT_DELETE' }))).toBeUndefined();
    expect(provider.pushedTask(notification({ objectId: 'renders/' }))).toBeUndefined();
    expect(provider.pushedTask({ data: { taskId: 'veo_a' } })).toBeUndefined();
    expect(gcsOnly().pushedTask(notification({}))).toBeUndefined();
  });

  it('needs storageUri for a push', () => {
    expect(
      () =>
        new VertexProvider({
          serviceAccountKey: account.key,
          region: 'us-central1',
          push: { account: pushAccount, audience: endpoint },
        }),
    ).toThrow(/a push needs storageUri/);
  });

  function gcsOnly() {
    return new VertexProvider({
      serviceAccountKey: account.key,
      region: 'us-central1',
      storageUri: 'gs://veo-out/renders',
    });
  }
});
