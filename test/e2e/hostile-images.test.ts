import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { pngBytes } from '../../simulator/fixtures';
import { blackPng } from '../support/images';
import { apiClient } from './support';

/**
 * Hostile input images through the whole local stack (issue 14, Isolation), with a provider that takes
 * images inline (Gemini), so the worker fetches and crops them: a task's bad image ends that task with
 * a 422 naming the image, refunded, and its neighbours go on.
 */
let stack: RunningLocalStack;
let client: ReturnType<typeof apiClient>;
let images: Server;
let base: string;
/** When each slow image was asked for. */
const slowArrivals: number[] = [];

beforeAll(async () => {
  const bomb = await blackPng(20_000, 10_000, 1); // 200 megapixels in about 190 KB
  const slow = pngBytes(1600, 900);
  images = createServer((req, res) => {
    if (req.url === '/200mp.png') return void res.writeHead(200, { 'content-type': 'image/png' }).end(bomb);
    if (req.url?.startsWith('/slow-')) {
      // Trickled over 3 s: three of them must not add up.
      slowArrivals.push(Date.now());
      res.writeHead(200, { 'content-type': 'image/png' });
      let sent = 0;
      const piece = Math.ceil(slow.length / 10);
      const next = () => {
        if (res.destroyed) return;
        res.write(slow.subarray(sent, sent + piece));
        sent += piece;
        if (sent >= slow.length) res.end();
        else setTimeout(next, 300);
      };
      return next();
    }
    res.writeHead(200, { 'content-type': 'image/png' }).end(pngBytes(1280, 720));
  });
  images.listen(0, '127.0.0.1');
  await once(images, 'listening');
  base = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;
  stack = await startLocalStack({
    port: 0,
    provider: 'gemini',
    simulatorLatencyMs: 500,
    pollIntervalSeconds: 1,
  });
  client = apiClient(stack);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await new Promise<void>((resolve) => (images ? images.close(() => resolve()) : resolve()));
});

describe('hostile images on the local stack', () => {
  it('ends a task with a 200-megapixel PNG as 422 naming the image, refunded; its neighbour succeeds', async () => {
    const before = await client.credit();
    const hostile = await client.generate({
      prompt: 'a huge picture',
      aspectRatio: 'Auto',
      imageUrls: [`${base}/ok.png`, `${base}/200mp.png`],
    });
    const normal = await client.generate({ prompt: 'a normal picture', imageUrls: [`${base}/ok.png`] });

    const failed = await client.waitForRecord(hostile);
    const succeeded = await client.waitForRecord(normal);

    expect(failed).toMatchObject({
      successFlag: 2,
      errorCode: 422,
      errorMessage: 'imageUrls[1] is 20000x10000 pixels; at most 40 megapixels are accepted',
      creditsConsumed: 0,
    });
    expect(succeeded).toMatchObject({ successFlag: 1 });
    expect(await client.credit()).toBe(before - 60);
  });

  it('fetches three slow images side by side: the task does not wait for them one by one', async () => {
    const taskId = await client.generate({
      prompt: 'three slow references',
      generationType: 'REFERENCE_2_VIDEO',
      imageUrls: [1, 2, 3].map((n) => `${base}/slow-${n}.png`),
    });
    const record = await client.waitForRecord(taskId, (d) => d.successFlag !== 0, 30_000);
    expect(record).toMatchObject({ successFlag: 1 });
    // Each image takes 3 s to arrive: one after the other, each would be asked for 3 s after the last.
    expect(slowArrivals).toHaveLength(3);
    expect(Math.max(...slowArrivals) - Math.min(...slowArrivals)).toBeLessThan(1_500);
  });
});
