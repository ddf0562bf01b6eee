import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { mp4Bytes, pngBytes } from './fixtures';
import { parseSimulatorArgs } from './main';
import { mp4Info } from './mp4-info';
import { drawLatency, sampleFiles, seededRandom } from './operations';
import { type Simulator, type SimulatorOptions, startSimulator } from './server';

const running: Simulator[] = [];
async function start(options: SimulatorOptions): Promise<Simulator> {
  const simulator = await startSimulator(options);
  running.push(simulator);
  return simulator;
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
const geminiSubmit = (sim: Simulator, body: unknown, headers: Record<string, string> = {}) =>
  post(`${sim.url}/v1beta/models/veo-3.1-fast-generate-preview:predictLongRunning`, body, headers);
const kieSubmit = (sim: Simulator, body: unknown) =>
  post(`${sim.url}/api/v1/veo/generate`, body, { authorization: 'Bearer k' });

describe('simulator', () => {
  it('answers 429 beyond a shape’s submit quota, per shape, until the window passes', async () => {
    const sim = await start({
      latencyMs: 100,
      quota: { gemini: { limit: 2, windowMs: 300 }, kie: { limit: 1, windowMs: 60_000 } },
    });
    const text = { instances: [{ prompt: 'x' }] };
    expect((await geminiSubmit(sim, text)).status).toBe(200);
    expect((await geminiSubmit(sim, text)).status).toBe(200);
    const refused = await geminiSubmit(sim, text);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: { code: 429, status: 'RESOURCE_EXHAUSTED' } });

    expect(await (await kieSubmit(sim, { prompt: 'x' })).json()).toMatchObject({ code: 200 });
    const kieRefused = await kieSubmit(sim, { prompt: 'x' });
    expect(kieRefused.status).toBe(429);
    expect(await kieRefused.json()).toMatchObject({ code: 429, data: null });

    await new Promise((r) => setTimeout(r, 320));
    expect((await geminiSubmit(sim, text)).status).toBe(200);
  });

  it('goes down and comes back: 503 in each shape’s format while down, generations in flight go on', async () => {
    const sim = await start({ latencyMs: 50 });
    const accepted = (await (await kieSubmit(sim, { prompt: 'before' })).json()) as {
      data: { taskId: string };
    };
    sim.down();
    expect(sim.isDown).toBe(true);
    const kie = await kieSubmit(sim, { prompt: 'during' });
    expect([kie.status, await kie.json()]).toEqual([
      503,
      { code: 503, msg: 'Service Unavailable', data: null },
    ]);
    const gemini = await geminiSubmit(sim, { instances: [{ prompt: 'during' }] });
    expect(gemini.status).toBe(503);
    expect(await gemini.json()).toMatchObject({ error: { code: 503, status: 'UNAVAILABLE' } });
    const poll = () =>
      fetch(`${sim.url}/api/v1/veo/record-info?taskId=${accepted.data.taskId}`, {
        headers: { authorization: 'Bearer k' },
      });
    expect((await poll()).status).toBe(503);
    // Nothing was generated while down; every attempt is in the log, with its answer.
    expect(sim.generations().map((g) => g.prompt)).toEqual(['before']);
    expect(sim.requests.map((r) => [r.kind, r.status])).toEqual([
      ['submit', 200],
      ['submit', 503],
      ['submit', 503],
      ['poll', 503],
    ]);
    // A poll refused while down still names the generation it asked for.
    expect(sim.requests[3]?.id).toBe(accepted.data.taskId);

    // Over HTTP, for `npm start` users: the control routes answer while down and are not logged.
    expect(await (await fetch(`${sim.url}/_simulator/state`)).json()).toEqual({ down: true });
    expect(await (await fetch(`${sim.url}/_simulator/up`, { method: 'POST' })).json()).toEqual({
      down: false,
    });
    expect(sim.isDown).toBe(false);
    await new Promise((r) => setTimeout(r, 60));
    expect(await (await poll()).json()).toMatchObject({ code: 200, data: { successFlag: 1 } });
    expect((await fetch(`${sim.url}/_simulator/down`, { method: 'POST' })).status).toBe(200);
    expect(sim.isDown).toBe(true);
    expect((await fetch(`${sim.url}/_simulator/sideways`, { method: 'POST' })).status).toBe(404);
    expect(sim.requests).toHaveLength(5);
  });

  it('holds kie’s pushes while down and sends them once it is back', async () => {
    const received: string[] = [];
    const receiver = createServer((req, res) => {
      received.push(req.url ?? '');
      res.writeHead(200).end();
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const sim = await start({ latencyMs: 50 });
      const callBackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      await kieSubmit(sim, { prompt: 'x', callBackUrl });
      sim.down();
      await new Promise((r) => setTimeout(r, 400));
      expect(received).toEqual([]);
      sim.up();
      await new Promise((r) => setTimeout(r, 400));
      expect(received).toEqual(['/hook']);
    } finally {
      receiver.close();
    }
  });

  it('logs which generation each submit, poll and download concerns, known here or not', async () => {
    const sim = await start({ latencyMs: 0 });
    const { data } = (await (await kieSubmit(sim, { prompt: 'x' })).json()) as { data: { taskId: string } };
    await fetch(`${sim.url}/api/v1/veo/record-info?taskId=${data.taskId}`, {
      headers: { authorization: 'Bearer k' },
    });
    await fetch(`${sim.url}/kie/files/${data.taskId}.mp4`).then((r) => r.arrayBuffer());
    const submitted = (await (await geminiSubmit(sim, { instances: [{ prompt: 'y' }] })).json()) as {
      name: string;
    };
    const geminiId = submitted.name.split('/').at(-1);
    await fetch(`${sim.url}/v1beta/${submitted.name}`);
    await fetch(`${sim.url}/v1beta/files/${geminiId}:download?alt=media`).then((r) => r.arrayBuffer());
    // Another upstream's operation: unknown here, still logged under its id.
    await fetch(`${sim.url}/api/v1/veo/record-info?taskId=elsewhere`, {
      headers: { authorization: 'Bearer k' },
    });
    expect(sim.requests.map((r) => [r.shape, r.kind, r.id, r.status])).toEqual([
      ['kie', 'submit', data.taskId, 200],
      ['kie', 'poll', data.taskId, 200],
      ['kie', 'download', data.taskId, 200],
      ['gemini', 'submit', geminiId, 200],
      ['gemini', 'poll', geminiId, 200],
      ['gemini', 'download', geminiId, 200],
      ['kie', 'poll', 'elsewhere', 422],
    ]);
  });

  it('records requests (bounded) with credentials redacted', async () => {
    const sim = await start({ latencyMs: 100, apiKey: 'secret-key', maxRecordedRequests: 2 });
    await geminiSubmit(sim, { instances: [{ prompt: 'one' }] }, { 'x-goog-api-key': 'secret-key' });
    await fetch(`${sim.url}/v1beta/models/m/operations/nope?key=secret-key`);
    await geminiSubmit(sim, { instances: [{ prompt: 'three' }] }, { 'x-goog-api-key': 'wrong' });
    expect(sim.requests).toHaveLength(2);
    const [poll, submit] = sim.requests;
    expect(poll).toMatchObject({
      kind: 'poll',
      path: '/v1beta/models/m/operations/nope?key=%3Credacted%3E',
      auth: 'valid',
    });
    expect(submit).toMatchObject({
      kind: 'submit',
      body: { instances: [{ prompt: 'three' }] },
      auth: 'invalid',
    });
    expect(JSON.stringify(sim.requests)).not.toContain('secret-key');
  });

  it('checks requests like the real APIs: Vertex-only parameters and bad images on Gemini, kie rules', async () => {
    const sim = await start({ latencyMs: 100 });
    const seed = await geminiSubmit(sim, { instances: [{ prompt: 'x' }], parameters: { seed: 1 } });
    expect(seed.status).toBe(400);
    expect(((await seed.json()) as { error: { message: string } }).error.message).toContain('`seed`');
    const notPng = { bytesBase64Encoded: Buffer.from('GIF89a').toString('base64'), mimeType: 'image/png' };
    const badImage = await geminiSubmit(sim, { instances: [{ prompt: 'x', image: notPng }] });
    expect(badImage.status).toBe(400);
    const png = { bytesBase64Encoded: pngBytes(2, 1).toString('base64'), mimeType: 'image/png' };
    expect((await geminiSubmit(sim, { instances: [{ prompt: 'x', lastFrame: png }] })).status).toBe(400);
    expect(
      (await geminiSubmit(sim, { instances: [{ prompt: 'x', image: png, lastFrame: png }] })).status,
    ).toBe(200);

    const reference = await kieSubmit(sim, {
      prompt: 'x',
      imageUrls: ['https://a/1.png'],
      generationType: 'REFERENCE_2_VIDEO',
      model: 'veo3',
    });
    expect(reference.status).toBe(422);
    expect(await reference.json()).toMatchObject({ code: 422, msg: expect.stringContaining('veo3_fast') });
    expect((await kieSubmit(sim, { prompt: 'x', seeds: 5 })).status).toBe(422);
  });

  it('checks extension requests: an MP4 in each API’s own fields, alone, and a finished kie source', async () => {
    const sim = await start({ latencyMs: 100 });
    const mp4 = mp4Bytes('clip').toString('base64');
    const gemini = (video: unknown, parameters: unknown = {}) =>
      geminiSubmit(sim, { instances: [{ prompt: 'more', video }], parameters });
    const message = async (response: Response) =>
      ((await response.json()) as { error: { message: string } }).error.message;

    expect((await gemini({ encodedVideo: mp4, encoding: 'video/mp4' })).status).toBe(200);
    expect(sim.requests.at(-1)?.body).toMatchObject({ instances: [{ video: { encodedVideo: mp4 } }] });
    // Vertex AI's field names are not the Gemini API's.
    expect(await message(await gemini({ bytesBase64Encoded: mp4, mimeType: 'video/mp4' }))).toContain(
      'Unknown name "bytesBase64Encoded"',
    );
    const gif = Buffer.from('GIF89a').toString('base64');
    expect(await message(await gemini({ encodedVideo: gif, encoding: 'video/mp4' }))).toContain('not an MP4');
    expect(
      await message(await gemini({ encodedVideo: mp4, encoding: 'video/mp4' }, { resolution: '1080p' })),
    ).toBe('Video extension supports 720p only');
    expect(await message(await gemini({ uri: `${sim.url}/v1beta/files/nope:download?alt=media` }))).toContain(
      'generated by Veo',
    );
    const png = { bytesBase64Encoded: pngBytes(2, 1).toString('base64'), mimeType: 'image/png' };
    const withImage = await geminiSubmit(sim, {
      instances: [{ prompt: 'x', image: png, video: { encodedVideo: mp4, encoding: 'video/mp4' } }],
    });
    expect(await message(withImage)).toContain('cannot be combined');

    // The Vertex shape wants a token it issued (no service account configured: any assertion will do).
    const token = (await (
      await fetch(`${sim.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
          assertion: unsignedAssertion(sim.url),
        }),
      })
    ).json()) as { access_token: string };
    const vertex = (video: unknown, durationSeconds: number) =>
      post(
        `${sim.url}/v1/projects/p/locations/us-central1/publishers/google/models/veo-3.1-generate-001:predictLongRunning`,
        { instances: [{ prompt: 'more', video }], parameters: { durationSeconds } },
        { authorization: `Bearer ${token.access_token}` },
      );
    expect((await vertex({ bytesBase64Encoded: mp4, mimeType: 'video/mp4' }, 7)).status).toBe(200);
    expect(await message(await vertex({ bytesBase64Encoded: mp4, mimeType: 'video/mp4' }, 8))).toBe(
      'durationSeconds must be 7 for a video extension',
    );
    expect(await message(await vertex({ encodedVideo: mp4, encoding: 'video/mp4' }, 7))).toContain(
      'Unknown name "encodedVideo"',
    );

    const kieExtend = (body: unknown) =>
      post(`${sim.url}/api/v1/veo/extend`, body, { authorization: 'Bearer k' });
    const { data } = (await (await kieSubmit(sim, { prompt: 'x' })).json()) as { data: { taskId: string } };
    expect(await (await kieExtend({ taskId: data.taskId, prompt: 'more' })).json()).toMatchObject({
      code: 422,
      msg: 'record status is not success',
    });
    expect(await (await kieExtend({ taskId: 'nope', prompt: 'more' })).json()).toMatchObject({
      code: 422,
      msg: 'record is null',
    });
    expect(
      await (await kieExtend({ taskId: data.taskId, prompt: 'more', model: 'veo3' })).json(),
    ).toMatchObject({
      code: 422,
      msg: 'model must be one of fast, quality',
    });
    await new Promise((r) => setTimeout(r, 120));
    const extended = (await (await kieExtend({ taskId: data.taskId, prompt: 'more' })).json()) as {
      code: number;
      data: { taskId: string };
    };
    expect(extended.code).toBe(200);
    await new Promise((r) => setTimeout(r, 120));
    const record = (await (
      await fetch(`${sim.url}/api/v1/veo/record-info?taskId=${extended.data.taskId}`, {
        headers: { authorization: 'Bearer k' },
      })
    ).json()) as {
      data: { successFlag: number; response: { resultUrls: string[]; fullResultUrls: string[] } };
    };
    expect(record.data.successFlag).toBe(1);
    const full = record.data.response.fullResultUrls[0] ?? '';
    expect(full).toMatch(/-full\.mp4$/);
    expect(full).not.toBe(record.data.response.resultUrls[0]);
    expect((await fetch(full)).status).toBe(200);
    expect((await fetch(`${sim.url}/kie/files/${data.taskId}-full.mp4`)).status).toBe(404);
    // Real videos: the extension's own clip is 7 s, the stitched one the source's 8 s and those 7.
    const own = mp4Info(
      Buffer.from(await (await fetch(record.data.response.resultUrls[0] ?? '')).arrayBuffer()),
    );
    const stitched = mp4Info(Buffer.from(await (await fetch(full)).arrayBuffer()));
    expect(own?.durationSeconds).toBeCloseTo(7, 0);
    expect(stitched).toMatchObject({ width: 1280, height: 720, hasAudio: true });
    expect(stitched?.durationSeconds).toBeCloseTo(15, 0);
  });

  it('takes kie’s 2026 fields: aspect_ratio (alias, never contradicting aspectRatio), resolution, duration, veo3_lite', async () => {
    const sim = await start({ latencyMs: 0, kieApiKey: 'k' });
    const answer = async (body: Record<string, unknown>) =>
      (await (await kieSubmit(sim, { prompt: 'a kite', ...body })).json()) as {
        code: number;
        msg: string;
        data: { taskId: string } | null;
      };
    expect(await answer({ aspect_ratio: '9:16', aspectRatio: '16:9' })).toMatchObject({
      code: 422,
      msg: 'aspect_ratio and aspectRatio differ',
    });
    expect(await answer({ model: 'veo3_lite', resolution: '4k' })).toMatchObject({ code: 422 });
    expect(await answer({ resolution: '1080p', duration: 4 })).toMatchObject({
      code: 422,
      msg: 'duration must be 8 for 1080p, 4k or REFERENCE_2_VIDEO',
    });
    expect(await answer({ duration: 5 })).toMatchObject({ code: 422 });
    const made = await answer({ model: 'veo3_lite', aspect_ratio: '9:16', resolution: '1080p', duration: 8 });
    expect(made.code).toBe(200);
    const record = (await (
      await fetch(`${sim.url}/api/v1/veo/record-info?taskId=${made.data?.taskId}`, {
        headers: { authorization: 'Bearer k' },
      })
    ).json()) as { data: { response: { resultUrls: string[]; resolution: string } } };
    expect(record.data.response.resolution).toBe('1080p');
    const video = mp4Info(
      Buffer.from(await (await fetch(record.data.response.resultUrls[0] ?? '')).arrayBuffer()),
    );
    expect(video).toMatchObject({ width: 1080, height: 1920, hasAudio: true });
    expect(video?.durationSeconds).toBeCloseTo(8, 0);
  });

  it('answers a retired model as each upstream does: Google 404 NOT_FOUND, kie 422', async () => {
    const sim = await start({ latencyMs: 0, retiredModels: ['veo-3.1-fast-generate-preview', 'veo3'] });
    const gone = await geminiSubmit(sim, { instances: [{ prompt: 'x' }] });
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({
      error: {
        status: 'NOT_FOUND',
        message: expect.stringContaining('models/veo-3.1-fast-generate-preview is not found'),
      },
    });
    expect(await (await kieSubmit(sim, { prompt: 'x', model: 'veo3' })).json()).toMatchObject({
      code: 422,
      msg: 'The model veo3 is not supported',
    });
    expect(await (await kieSubmit(sim, { prompt: 'x', model: 'veo3_fast' })).json()).toMatchObject({
      code: 200,
    });
    expect(parseSimulatorArgs(['--retired-model', 'a', '--retired-model', 'b']).retiredModels).toEqual([
      'a',
      'b',
    ]);
  });

  it('serves 720p as 1280×720 (16:9) and 720×1280 (9:16), 8 s with sound, by default', () => {
    expect(mp4Info(readFileSync(sampleFiles['16:9']))).toMatchObject({
      width: 1280,
      height: 720,
      hasAudio: true,
    });
    expect(mp4Info(readFileSync(sampleFiles['9:16']))).toMatchObject({
      width: 720,
      height: 1280,
      hasAudio: true,
    });
    expect(mp4Info(mp4Bytes('no moov'))).toBeUndefined();
  });

  it('draws the same outcomes and latencies from the same seed', async () => {
    const outcomes = async () => {
      const sim = await start({
        seed: 42,
        failureRate: 0.3,
        rejectionRate: 0.3,
        latencyMs: { min: 50, max: 150 },
      });
      const results: string[] = [];
      for (let i = 0; i < 8; i++) {
        const { data } = (await (await kieSubmit(sim, { prompt: `p${i}` })).json()) as {
          data: { taskId: string };
        };
        results.push(data.taskId);
      }
      await new Promise((r) => setTimeout(r, 200));
      const flags: number[] = [];
      for (const taskId of results) {
        const record = (await (
          await fetch(`${sim.url}/api/v1/veo/record-info?taskId=${taskId}`, {
            headers: { authorization: 'Bearer k' },
          })
        ).json()) as { data: { successFlag: number } };
        flags.push(record.data.successFlag);
      }
      return flags;
    };
    const first = await outcomes();
    expect(await outcomes()).toEqual(first);
    expect(new Set(first).size).toBeGreaterThan(1);
  });

  it('draws latencies within their range, log-uniformly when asked (as many per doubling)', () => {
    const range = { min: 1_100, max: 36_000 };
    const draw = (distribution: 'uniform' | 'log-uniform') => {
      const random = seededRandom(7);
      return Array.from({ length: 2000 }, () => drawLatency({ ...range, distribution }, random)).sort(
        (a, b) => a - b,
      );
    };
    for (const samples of [draw('uniform'), draw('log-uniform')]) {
      expect(samples[0]).toBeGreaterThanOrEqual(range.min);
      expect(samples.at(-1)).toBeLessThanOrEqual(range.max);
    }
    // Uniform: the median near the middle; log-uniform: near the geometric mean (about 6.3 s here).
    const middle = (samples: number[]) => samples[samples.length / 2] ?? 0;
    expect(middle(draw('uniform'))).toBeGreaterThan(15_000);
    expect(middle(draw('log-uniform'))).toBeGreaterThan(5_000);
    expect(middle(draw('log-uniform'))).toBeLessThan(8_000);
    expect(drawLatency(250, Math.random)).toBe(250);
    expect(() => drawLatency({ min: 10, max: 5 }, Math.random)).toThrow(/min <= max/);
  });

  it('tells for each generation when it was done upstream, how often it was polled and when seen done', async () => {
    const sim = await start({ latencyMs: 150 });
    const submitted = (await (await geminiSubmit(sim, { instances: [{ prompt: 'timed' }] })).json()) as {
      name: string;
    };
    const poll = async () =>
      (await (await fetch(`${sim.url}/v1beta/${submitted.name}`)).json()) as { done?: boolean };
    expect((await poll()).done).toBeUndefined();
    const [generation] = sim.generations();
    expect(generation).toMatchObject({ prompt: 'timed', outcome: 'succeeded', polls: 1 });
    expect(generation?.firstDonePollAt).toBeUndefined();
    await new Promise((r) => setTimeout(r, 200));
    expect((await poll()).done).toBe(true);
    expect((await poll()).done).toBe(true);
    expect(generation?.polls).toBe(3);
    // The first poll that saw it done, not the last one.
    expect(generation?.firstDonePollAt).toBeGreaterThanOrEqual(generation?.doneAt ?? Number.NaN);
    expect(generation?.firstDonePollAt).toBeLessThanOrEqual(Date.now());
    expect(generation?.doneAt).toBe((generation?.createdAt ?? 0) + 150);
  });

  it('serves a generated MP4 of exactly videoBytes when asked, as a stream', async () => {
    const videoBytes = 3 * 1024 * 1024 + 5;
    const sim = await start({ latencyMs: 0, videoBytes });
    const { name } = (await (await geminiSubmit(sim, { instances: [{ prompt: 'big' }] })).json()) as {
      name: string;
    };
    const done = (await (await fetch(`${sim.url}/v1beta/${name}`)).json()) as {
      response: { generateVideoResponse: { generatedSamples: { video: { uri: string } }[] } };
    };
    const uri = done.response.generateVideoResponse.generatedSamples[0]?.video.uri ?? '';
    const response = await fetch(uri);
    expect(response.headers.get('content-length')).toBe(String(videoBytes));
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(bytes.length).toBe(videoBytes);
    expect(bytes.subarray(4, 12).toString('latin1')).toBe('ftypisom');
    // ftyp (28 bytes), then one free box to the end.
    const ftypSize = bytes.readUInt32BE(0);
    expect(bytes.subarray(ftypSize + 4, ftypSize + 8).toString('latin1')).toBe('free');
    expect(ftypSize + bytes.readUInt32BE(ftypSize)).toBe(videoBytes);
  });

  it('retries a kie callback the receiver refused', async () => {
    let calls = 0;
    const receiver = createServer((_req, res) => res.writeHead(++calls === 1 ? 503 : 200).end());
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const sim = await start({ latencyMs: 50, kieCallbackRetryMs: 50 });
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/cb`;
      await kieSubmit(sim, { prompt: 'x', callBackUrl: url });
      // Generous under a loaded CI machine; ends as soon as the retry has been answered.
      const deadline = Date.now() + 10_000;
      const answered = () =>
        sim.callbacks.filter((c) => c.status !== undefined || c.error !== undefined).length;
      while (answered() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(sim.callbacks.map((c) => [c.attempt, c.status])).toEqual([
        [0, 503],
        [1, 200],
      ]);
    } finally {
      receiver.close();
    }
  });

  it('parses its command line', () => {
    expect(
      parseSimulatorArgs(
        [
          '--port',
          '9000',
          '--latency-ms',
          '100-400',
          '--latency-distribution',
          'log-uniform',
          '--failure-rate',
          '0.1',
          '--quota',
          'kie=20/10000',
          '--quota',
          'vertex=50/60000',
        ],
        { SIMULATOR_KIE_WEBHOOK_SECRET: 's' },
      ),
    ).toMatchObject({
      port: 9000,
      latencyMs: { min: 100, max: 400, distribution: 'log-uniform' },
      failureRate: 0.1,
      quota: { kie: { limit: 20, windowMs: 10_000 }, vertex: { limit: 50, windowMs: 60_000 } },
      kieWebhookSecret: 's',
    });
    expect(() => parseSimulatorArgs(['--quota', 'openai=1/1'])).toThrow(/SHAPE/);
  });
});

/** A JWT assertion as google-auth-library makes one, unsigned: enough when no service account is configured. */
function unsignedAssertion(baseUrl: string): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: 'sa@p.iam.gserviceaccount.com',
    scope: 'https://www.googleapis.com/auth/cloud-platform',
    aud: `${baseUrl}/token`,
    iat: now,
    exp: now + 3600,
  };
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.c2ln`;
}
