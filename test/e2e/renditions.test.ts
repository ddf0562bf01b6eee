import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renditionMessages } from '../../functions/core/errors';
import { renditionSlot } from '../../functions/core/task';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient, download, localDeps } from './support';

/**
 * 1080p and 4K on the local stack (SPEC §2): the renditions are made by the poller with ffmpeg from the
 * stored video, once per task, and handed out like any other result.
 */
let stack: RunningLocalStack;
let client: ReturnType<typeof apiClient>;
const callbacks: {
  body: { code: number; msg: string; data: { taskId: string; info?: { resultUrls: string[] } } };
}[] = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => {
    body += c;
  });
  req.on('end', () => {
    callbacks.push({ body: JSON.parse(body) });
    res.writeHead(200).end();
  });
});
let callbackUrl = '';
let landscape = '';
let portrait = '';

beforeAll(async () => {
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/4k`;
  stack = await startLocalStack({ port: 0, simulatorLatencyMs: 500, pollIntervalSeconds: 1 });
  client = apiClient(stack);
  [landscape, portrait] = await Promise.all([
    client.generate({ prompt: 'a wide landscape', aspectRatio: '16:9' }),
    client.generate({ prompt: 'a tall tower', aspectRatio: '9:16' }),
  ]);
  await Promise.all([client.waitForRecord(landscape), client.waitForRecord(portrait)]);
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  receiver.close();
});

const get1080p = (taskId: string, index = '0') =>
  client.call<{ resultUrl: string }>('GET', `/api/v1/veo/get-1080p-video?taskId=${taskId}&index=${index}`);
const post4k = (body: unknown) =>
  client.call<{ taskId: string; resultUrls: string[] | null; imageUrls: null }>(
    'POST',
    '/api/v1/veo/get-4k-video',
    {
      body,
    },
  );

/** Width and height of an MP4's video track, read from its `tkhd` box (16.16 fixed point). */
function videoSize(mp4: Buffer): { width: number; height: number } {
  let at = mp4.indexOf('tkhd');
  let size = { width: 0, height: 0 };
  while (at > 0) {
    const version = mp4[at + 4];
    const end = at + 4 + (version === 1 ? 96 : 84);
    const found = { width: mp4.readUInt32BE(end - 8) >>> 16, height: mp4.readUInt32BE(end - 4) >>> 16 };
    if (found.width > 0) size = found; // the audio track's tkhd is 0×0
    at = mp4.indexOf('tkhd', at + 4);
  }
  return size;
}

describe('1080p', () => {
  it('answers 400 processing until the 1080p video exists, then its URL; concurrent asks make it once', async () => {
    const first = await Promise.all(Array.from({ length: 5 }, () => get1080p(landscape)));
    expect(first.map((r) => [r.status, r.json.msg])).toEqual(
      Array(5).fill([400, renditionMessages.processing1080p]),
    );
    const requestedAt = (await localDeps()).tasks
      .get(landscape)
      .then((t) => t?.renditions?.['1080p_0']?.requestedAt);
    let answer = await get1080p(landscape);
    const deadline = Date.now() + 60_000;
    while (answer.status === 400 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      answer = await get1080p(landscape);
    }
    expect([answer.status, answer.json.msg]).toEqual([200, 'success']);
    const video = await download(answer.json.data.resultUrl);
    expect(video.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(videoSize(video)).toEqual({ width: 1920, height: 1080 });
    // Claimed once: the job the first request wrote is the one that finished.
    const task = await (await localDeps()).tasks.get(landscape);
    expect(task?.renditions?.['1080p_0']?.requestedAt).toBe(await requestedAt);
    const record = await client.record(landscape);
    expect(record.renditions).toEqual([
      { resolution: '1080p', index: 0, status: 'ready', resultUrl: expect.any(String), made: 'upscaled' },
    ]);
  }, 90_000);

  it('refuses unfinished tasks, other keys and bad indexes with 422', async () => {
    const queued = await client.generate({ prompt: 'still generating' });
    const [notDone, badIndex, unknown] = await Promise.all([
      get1080p(queued),
      get1080p(landscape, '5'),
      get1080p('veo_nosuchtask'),
    ]);
    expect([notDone.status, notDone.json.msg]).toEqual([422, renditionMessages.notSuccess]);
    expect(badIndex.status).toBe(422);
    expect([unknown.status, unknown.json.msg]).toEqual([422, 'record is null']);
  });
});

describe('4K', () => {
  it('starts at once, answers "processing" while it runs, calls back, then says it is done', async () => {
    const before = await client.credit();
    const start = await post4k({ taskId: portrait, index: 0, callBackUrl: callbackUrl });
    expect(start.json).toEqual({
      code: 200,
      msg: 'success',
      data: { taskId: portrait, resultUrls: null, imageUrls: null },
    });
    expect(await client.credit()).toBe(before - 120);

    const again = await post4k({ taskId: portrait, index: 0 });
    expect([again.status, again.json.msg]).toEqual([422, renditionMessages.processing4k]);

    const deadline = Date.now() + 90_000;
    while (!callbacks.some((c) => c.body.data.taskId === portrait) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
    }
    const callback = callbacks.find((c) => c.body.data.taskId === portrait);
    expect(callback?.body).toMatchObject({ code: 200, msg: '4K Video generated successfully.' });
    const url = callback?.body.data.info?.resultUrls[0];
    expect(videoSize(await download(url))).toEqual({ width: 2160, height: 3840 });

    const done = await post4k({ taskId: portrait, index: 0 });
    expect([done.status, done.json.msg]).toEqual([422, renditionMessages.done4k]);
    expect(done.json.data.resultUrls).toHaveLength(1);
    const record = await client.record(portrait);
    expect(record.renditions.find((r) => r.resolution === '4k')).toMatchObject({ status: 'ready' });
    expect(await client.credit()).toBe(before - 120); // charged once

    // kie.ai makes 1080p of 9:16 videos since 2026: started like a 16:9 one (1080×1920), after the 4K so
    // the two upscales do not share the poller.
    const portrait1080p = await get1080p(portrait);
    expect([portrait1080p.status, portrait1080p.json.msg]).toEqual([400, renditionMessages.processing1080p]);
  }, 120_000);

  it('claims a rendition slot exactly once under concurrent requests', async () => {
    const deps = await localDeps();
    const job = {
      resolution: '4k' as const,
      index: 0,
      status: 'processing' as const,
      requestedAt: Date.now(),
      credits: 0,
    };
    const claims = await Promise.all(
      Array.from({ length: 10 }, () => deps.tasks.startRendition(landscape, renditionSlot('4k', 0), job)),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
  });
});
