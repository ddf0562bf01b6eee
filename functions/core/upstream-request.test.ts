import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pngBytes } from '../../simulator/fixtures';
import { blackPng } from '../../test/support/images';
import { testWorld } from '../../test/support/test-deps';
import { HttpImageFetcher } from '../adapters/images/http-image-fetcher';
import { ImageRejectedError } from './errors';
import type { SourceImage } from './ports';
import { generateRequestSchema } from './schema';
import { newTask, type Task } from './task';
import { type UpstreamRequestDeps, upstreamRequest } from './upstream-request';

/**
 * The worker's image step against a real HTTP server and the real fetcher: a task's images are
 * fetched side by side under one deadline, and an image refused from its header never reaches the
 * decoder (the cropper here only counts its calls).
 */
let servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers) server.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  servers = [];
});

async function serve(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler).listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Sends `body` in 10 pieces spread over `ms`; `/stall` sends the first piece and then nothing. */
function trickle(body: Buffer, ms: number, closed: string[]): http.RequestListener {
  return (req, res) => {
    res.writeHead(200, { 'content-type': 'image/png' });
    res.on('close', () => closed.push(req.url ?? ''));
    const piece = Math.ceil(body.length / 10);
    let sent = 0;
    const next = () => {
      if (res.destroyed) return;
      res.write(body.subarray(sent, sent + piece));
      sent += piece;
      if (req.url?.startsWith('/stall')) return;
      if (sent >= body.length) res.end();
      else setTimeout(next, ms / 10);
    };
    next();
  };
}

function harness(timeoutMs: number) {
  const cropped: SourceImage[] = [];
  const deps: UpstreamRequestDeps = {
    ...testWorld().deps,
    images: new HttpImageFetcher({ policy: { allowLoopback: true, allowHttp: true }, timeoutMs }),
    // Only counts: an image refused from its header must never get here.
    cropper: {
      crop: async (image) => {
        cropped.push(image);
        return image;
      },
    },
  };
  // Auto with three images: each is fetched and centre-cropped, so the cropper sees what reached decoding.
  const task = (imageUrls: string[]): Task => ({
    ...newTask({
      request: generateRequestSchema({ allowLoopback: true, allowHttp: true }).parse({
        prompt: 'a picture comes to life',
        model: 'veo3_fast',
        generationType: 'REFERENCE_2_VIDEO',
        aspectRatio: '16:9',
        seeds: 12345,
        imageUrls,
        enableTranslation: false,
      }),
      paramJson: '{}',
      keyHash: 'h',
      credits: 0,
      provider: 'simulator',
      now: Date.now(),
      retentionDays: 14,
      budgetSeconds: 600,
    }),
    aspectRatio: 'Auto',
  });
  return { deps, task, cropped };
}

async function timed<T>(work: Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const started = Date.now();
  try {
    return { value: await work, ms: Date.now() - started };
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
}

describe('upstreamRequest: the images of a task', () => {
  it('fetches three slow images side by side, within one timeout rather than three', async () => {
    const closed: string[] = [];
    const base = await serve(trickle(pngBytes(1600, 900), 500, closed));
    const { deps, task, cropped } = harness(1_200);
    const urls = [1, 2, 3].map((n) => `${base}/slow-${n}.png`);

    const { value, error, ms } = await timed(upstreamRequest(deps, task(urls)));

    expect(error).toBeUndefined();
    expect(value?.request.images.map((i) => [i.width, i.height])).toEqual([
      [1600, 900],
      [1600, 900],
      [1600, 900],
    ]);
    expect(cropped).toHaveLength(3);
    // One after the other they would take 1.5 s, more than the one 1.2 s budget they share.
    expect(ms).toBeLessThan(1_200);
  });

  it('ends three stalled images together at the deadline, naming one', async () => {
    const closed: string[] = [];
    const base = await serve(trickle(pngBytes(1600, 900), 900, closed));
    const { deps, task, cropped } = harness(800);
    const urls = [1, 2, 3].map((n) => `${base}/stall-${n}.png`);

    const { error, ms } = await timed(upstreamRequest(deps, task(urls)));

    expect(error).toBeInstanceOf(ImageRejectedError);
    expect((error as Error).message).toMatch(
      /^imageUrls\[[0-2]\] could not be fetched: timed out after 800 ms$/,
    );
    expect(ms).toBeLessThan(1_600);
    await expect.poll(() => closed.length).toBe(3);
    expect(cropped).toHaveLength(0);
  });

  it('refuses a decompression bomb from its header, never decodes it, and stops the other downloads', async () => {
    const bomb = await blackPng(12_000, 12_000);
    const closed: string[] = [];
    const slow = trickle(pngBytes(1600, 900), 900, closed);
    const base = await serve((req, res) => {
      if (req.url === '/bomb.png') res.writeHead(200, { 'content-type': 'image/png' }).end(bomb);
      else slow(req, res);
    });
    const { deps, task, cropped } = harness(10_000);

    const { error, ms } = await timed(
      upstreamRequest(deps, task([`${base}/stall-0.png`, `${base}/bomb.png`, `${base}/stall-2.png`])),
    );

    expect(error).toBeInstanceOf(ImageRejectedError);
    expect((error as Error).message).toBe(
      'imageUrls[1] is 12000x12000 pixels; at most 40 megapixels are accepted',
    );
    expect(cropped).toHaveLength(0);
    // The stalled siblings were cut off at once, not left to their 10 s timeout.
    expect(ms).toBeLessThan(2_000);
    await expect.poll(() => closed.sort()).toEqual(['/stall-0.png', '/stall-2.png']);
  }, 30_000);
});

describe('upstreamRequest: Veo 3.1 options', () => {
  it('passes the options the client gave, and none it did not give or the upstream does not apply', async () => {
    const { deps } = harness(1000);
    const taskOf = (options: Record<string, unknown>): Task =>
      newTask({
        request: generateRequestSchema({ allowLoopback: true, allowHttp: true }).parse({
          prompt: 'a picture comes to life',
          enableTranslation: false,
          ...options,
        }),
        paramJson: '{}',
        keyHash: 'h',
        credits: 0,
        provider: 'simulator',
        now: Date.now(),
        retentionDays: 14,
        budgetSeconds: 600,
      });
    const base = taskOf({
      aspectRatio: '9:16',
      resolution: '1080p',
      duration: 8,
      generateAudio: false,
      negativePrompt: 'blur',
      sampleCount: 2,
    });
    const asked: Task = { ...base, notApplied: ['negativePrompt'] };
    const { request } = await upstreamRequest(deps, asked);
    expect(request).toMatchObject({
      aspectRatio: '9:16',
      resolution: '1080p',
      durationSeconds: 8,
      generateAudio: false,
      sampleCount: 2,
    });
    expect(request).not.toHaveProperty('negativePrompt');
    expect(request).not.toHaveProperty('personGeneration');
    const plain = await upstreamRequest(deps, taskOf({ aspectRatio: '16:9' }));
    expect(Object.keys(plain.request)).not.toContain('resolution');
  });
});
