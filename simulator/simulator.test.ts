import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pngBytes } from './fixtures';
import { parseSimulatorArgs } from './main';
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
      latencyMs: { min: 100, max: 400 },
      failureRate: 0.1,
      quota: { kie: { limit: 20, windowMs: 10_000 }, vertex: { limit: 50, windowMs: 60_000 } },
      kieWebhookSecret: 's',
    });
    expect(() => parseSimulatorArgs(['--quota', 'openai=1/1'])).toThrow(/SHAPE/);
  });
});
