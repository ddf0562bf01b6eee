import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../../simulator/server';
import type { UpstreamRequest } from '../../core/ports';
import { UpstreamUnavailableError } from '../../core/ports';
import { GeminiProvider } from './gemini-provider';

const models = { veo3: 'veo-3.1-generate-preview', veo3_fast: 'veo-3.1-fast-generate-preview' };
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
  simulator = await startSimulator({ latencyMs: 200 });
  provider = new GeminiProvider({ name: 'simulator', baseUrl: simulator.url, models });
});
afterAll(() => simulator.stop());

async function settle(operation: string) {
  for (;;) {
    const status = await provider.poll(operation);
    if (status.state !== 'pending') return status;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('GeminiProvider against the simulator', () => {
  it('submits, polls until done and downloads the video of the requested shape', async () => {
    const operation = await provider.submit(request);
    expect(operation).toMatch(/^models\/veo-3\.1-fast-generate-preview\/operations\/.+/);
    expect(await provider.poll(operation)).toEqual({ state: 'pending' });
    const status = await settle(operation);
    expect(status.state).toBe('done');
    if (status.state !== 'done') return;
    const video = await provider.download(status.videos[0] ?? '');
    expect(video.contentType).toBe('video/mp4');
    const body = await buffer(video.body);
    expect(body.subarray(4, 8).toString('latin1')).toBe('ftyp');
  });

  it('reports a content-filtered operation as rejected and an operation error as failed', async () => {
    const rejected = await settle(await provider.submit({ ...request, prompt: 'x [reject]' }));
    const failed = await settle(await provider.submit({ ...request, prompt: 'x [fail]' }));
    expect(rejected).toMatchObject({ state: 'rejected', reason: expect.stringContaining('violate') });
    expect(failed).toMatchObject({ state: 'failed', reason: expect.stringContaining('internal error') });
  });

  it('treats 429 and 5xx as transient and accepts samples directly under response (relays)', async () => {
    let answer = { status: 429, body: {} as unknown };
    const relay = createServer((_req, res) => res.writeHead(answer.status).end(JSON.stringify(answer.body)));
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const relayProvider = new GeminiProvider({
      name: 'relay',
      baseUrl: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`,
      models,
    });
    try {
      await expect(relayProvider.submit(request)).rejects.toBeInstanceOf(UpstreamUnavailableError);
      answer = { status: 503, body: {} };
      await expect(relayProvider.poll('models/m/operations/1')).rejects.toBeInstanceOf(
        UpstreamUnavailableError,
      );
      answer = {
        status: 200,
        body: { done: true, response: { generatedSamples: [{ video: { uri: 'https://v/1' } }] } },
      };
      expect(await relayProvider.poll('models/m/operations/1')).toEqual({
        state: 'done',
        videos: ['https://v/1'],
      });
      answer = { status: 400, body: { error: { message: 'bad' } } };
      await expect(relayProvider.submit(request)).rejects.not.toBeInstanceOf(UpstreamUnavailableError);
    } finally {
      relay.close();
    }
  });
});
