import { describe, expect, it } from 'vitest';
import { addKey, seedTask, testWorld, thrown } from '../../../test/support/test-deps';
import { renditionMessages } from '../errors';
import { makeRendition } from '../stages/renditions';
import { request4k, request1080p } from './renditions';

const callBackUrl = 'https://receiver.example.com/4k';

describe('GET /veo/get-1080p-video', () => {
  it('starts the free 1080p rendition once, answers 400 processing until ready, then its URL', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    const task = await seedTask(world, key, 'succeeded');
    const balance = (await world.apiKeys.get(key.keyHash))?.credits;

    const first = await thrown(request1080p(world.deps, key, { taskId: task.taskId }));
    expect([first.code, first.message]).toEqual([400, renditionMessages.processing1080p]);
    expect((await world.tasks.get(task.taskId))?.renditions?.['1080p_0']).toMatchObject({
      status: 'processing',
      resolution: '1080p',
      index: 0,
      credits: 0,
    });
    expect(world.queues.polled).toEqual([
      { message: { taskId: task.taskId, rendition: '1080p_0' }, delaySeconds: 0 },
    ]);

    // Asked again while it is being made: the same answer, no second job.
    const again = await thrown(request1080p(world.deps, key, { taskId: task.taskId, index: '0' }));
    expect(again.code).toBe(400);
    expect(world.queues.polled).toHaveLength(1);

    await makeRendition(world.deps, { taskId: task.taskId, rendition: '1080p_0' });
    const key1080 = `videos/${task.taskId}/0-1080p.mp4`;
    expect(world.videos.objects.get(key1080)?.bytes.toString()).toBe('720p|1920x1080');
    expect(await request1080p(world.deps, key, { taskId: task.taskId })).toEqual({
      resultUrl: await world.videos.url(key1080),
    });
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(balance);
  });

  it('answers 422 for a 9:16 video, an unfinished task, an index past the videos, another key; 505 without ffmpeg', async () => {
    const world = testWorld();
    const [key, stranger] = [await addKey(world), await addKey(world)];
    const portrait = await seedTask(world, key, 'succeeded', {
      body: { prompt: 'a cat', aspectRatio: '9:16' },
    });
    const running = await seedTask(world, key, 'submitted');
    const done = await seedTask(world, key, 'succeeded');
    const answers = [
      await thrown(request1080p(world.deps, key, { taskId: portrait.taskId })),
      await thrown(request1080p(world.deps, key, { taskId: running.taskId })),
      await thrown(request1080p(world.deps, key, { taskId: done.taskId, index: '1' })),
      await thrown(request1080p(world.deps, stranger, { taskId: done.taskId })),
      await thrown(request1080p(world.deps, key, {})),
    ].map((e) => [e.code, e.message]);
    expect(answers).toEqual([
      // 9:16 has 1080p too now (kie.ai allows it): the first request starts it.
      [400, renditionMessages.processing1080p],
      [422, renditionMessages.notSuccess],
      [422, 'index must be below 1'],
      [422, 'record is null'],
      [422, 'taskId is required'],
    ]);

    const disabled = testWorld({ ffmpegAvailable: false });
    const owner = await addKey(disabled);
    const finished = await seedTask(disabled, owner, 'succeeded');
    const error = await thrown(request1080p(disabled.deps, owner, { taskId: finished.taskId }));
    expect([error.code, error.message]).toEqual([505, renditionMessages.disabled]);
    // Only the portrait's 1080p was started.
    expect(world.queues.polled.map((p) => p.message)).toEqual([
      { taskId: portrait.taskId, rendition: '1080p_0' },
    ]);
    expect(disabled.queues.polled).toEqual([]);
  });
});

describe('POST /veo/get-4k-video', () => {
  it('charges the 4K price once, starts it at once and calls back when it is ready', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    const task = await seedTask(world, key, 'succeeded'); // 940 left

    expect(await request4k(world.deps, key, { taskId: task.taskId, callBackUrl })).toEqual({
      taskId: task.taskId,
      resultUrls: null,
      imageUrls: null,
    });
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(820);
    expect(world.queues.polled).toEqual([
      { message: { taskId: task.taskId, rendition: '4k_0' }, delaySeconds: 0 },
    ]);

    const busy = await thrown(request4k(world.deps, key, { taskId: task.taskId }));
    expect([busy.code, busy.message]).toEqual([422, renditionMessages.processing4k]);
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(820);

    await makeRendition(world.deps, { taskId: task.taskId, rendition: '4k_0' });
    const key4k = `videos/${task.taskId}/0-4k.mp4`;
    expect(world.videos.objects.get(key4k)?.bytes.toString()).toBe('720p|3840x2160');
    expect((await world.tasks.get(task.taskId))?.renditions?.['4k_0']).toMatchObject({
      status: 'ready',
      key: key4k,
    });
    expect(world.queues.notified).toMatchObject([
      {
        message: {
          taskId: task.taskId,
          keyHash: key.keyHash,
          event: '4k',
          rendition: '4k_0',
          change: {
            type: 'renditionReady',
            rendition: '4k_0',
            task: { renditions: { '4k_0': { status: 'ready' } } },
          },
        },
      },
    ]);

    // Made once: asking again answers with the URL, charging nothing.
    const ready = await thrown(request4k(world.deps, key, { taskId: task.taskId }));
    expect([ready.code, ready.message, ready.data]).toEqual([
      422,
      renditionMessages.done4k,
      { taskId: task.taskId, resultUrls: [await world.videos.url(key4k)], imageUrls: null },
    ]);
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(820);
  });

  it('makes a portrait 4K at 2160×3840', async () => {
    const world = testWorld();
    const key = await addKey(world);
    const task = await seedTask(world, key, 'succeeded', { body: { prompt: 'a cat', aspectRatio: '9:16' } });
    await request4k(world.deps, key, { taskId: task.taskId });
    await makeRendition(world.deps, { taskId: task.taskId, rendition: '4k_0' });
    expect(world.videos.objects.get(`videos/${task.taskId}/0-4k.mp4`)?.bytes.toString()).toBe(
      '720p|2160x3840',
    );
    // No callBackUrl: no callback, but the rendition's end is still an event.
    expect(world.queues.notified.map((n) => n.message.change?.type)).toEqual(['renditionReady']);
    expect(world.queues.notified[0]?.message.change?.task.renditions?.['4k_0']?.callBackUrl).toBeUndefined();
  });

  it('refunds a failed rendition, calls back, and lets it be asked for again', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    const task = await seedTask(world, key, 'succeeded');
    await request4k(world.deps, key, { taskId: task.taskId, callBackUrl });
    world.upscaler.failing = new Error('ffmpeg exited with 1');
    await makeRendition(world.deps, { taskId: task.taskId, rendition: '4k_0' });

    expect((await world.tasks.get(task.taskId))?.renditions?.['4k_0']).toMatchObject({
      status: 'failed',
      error: 'ffmpeg exited with 1',
    });
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(940);
    expect(world.queues.notified.map((n) => [n.message.event, n.message.change?.type])).toEqual([
      ['4k', 'renditionFailed'],
    ]);
    expect(world.videos.objects.has(`videos/${task.taskId}/0-4k.mp4`)).toBe(false);

    // A redelivered message finds it no longer processing: no second refund.
    await makeRendition(world.deps, { taskId: task.taskId, rendition: '4k_0' });
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(940);

    world.upscaler.failing = undefined;
    await request4k(world.deps, key, { taskId: task.taskId });
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(820);
  });

  it('answers 402 when the key cannot pay for 4K, starting nothing', async () => {
    const world = testWorld();
    const key = await addKey(world, 100);
    const task = await seedTask(world, key, 'succeeded'); // 40 left
    const error = await thrown(request4k(world.deps, key, { taskId: task.taskId }));
    expect(error.code).toBe(402);
    expect(error.message).toContain('costs 120 credits, the balance is 40');
    expect((await world.tasks.get(task.taskId))?.renditions).toEqual({});
    expect(world.queues.polled).toEqual([]);
  });

  it("counts a 4K start against the key's rate limit (429)", async () => {
    const world = testWorld();
    const key = await addKey(world, 5000, { rateLimit: { limit: 1, windowSeconds: 60 } });
    const [a, b] = [await seedTask(world, key, 'succeeded'), await seedTask(world, key, 'succeeded')];
    await request4k(world.deps, key, { taskId: a.taskId });
    const error = await thrown(request4k(world.deps, key, { taskId: b.taskId }));
    expect(error.code).toBe(429);
    expect((await world.tasks.get(b.taskId))?.renditions).toEqual({});
  });

  it('refunds and frees the slot when the job cannot be queued (issue 14 defect 2)', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    const task = await seedTask(world, key, 'succeeded'); // 940 left
    world.queues.failing = new Error('SQS unreachable');
    await expect(request4k(world.deps, key, { taskId: task.taskId, callBackUrl })).rejects.toThrow(
      'SQS unreachable',
    );
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(940);
    expect((await world.tasks.get(task.taskId))?.renditions?.['4k_0']?.status).toBe('failed');

    // A later request starts it again, instead of "processing" forever.
    world.queues.failing = undefined;
    expect(await request4k(world.deps, key, { taskId: task.taskId, callBackUrl })).toMatchObject({
      taskId: task.taskId,
    });
    expect(world.queues.polled).toEqual([
      { message: { taskId: task.taskId, rendition: '4k_0' }, delaySeconds: 0 },
    ]);
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(820);
  });
});

describe('native renditions', () => {
  it('answers a 1080p or 4K task with its own file at once: no job, no charge, no ffmpeg needed', async () => {
    const world = testWorld({ ffmpegAvailable: false });
    const key = await addKey(world, 1000);
    const at = (resolution: string) =>
      seedTask(world, key, 'succeeded', { body: { prompt: 'a cat', aspectRatio: '9:16' } }).then(
        async (t) => {
          const results = (t.results ?? []).map((r) => ({ ...r, resolution }));
          await world.tasks.transition(t.taskId, 'succeeded', { results });
          return { ...t, results };
        },
      );
    const hd = await at('1080p');
    const uhd = await at('4k');
    const balance = (await world.apiKeys.get(key.keyHash))?.credits;

    const hdAnswer = await request1080p(world.deps, key, { taskId: hd.taskId });
    const uhdAnswer = await request4k(world.deps, key, { taskId: uhd.taskId });

    expect(hdAnswer.resultUrl).toContain(hd.results[0]?.key);
    expect(uhdAnswer.resultUrls?.[0]).toContain(uhd.results[0]?.key);
    expect((await world.tasks.get(hd.taskId))?.renditions).toEqual({});
    expect((await world.tasks.get(uhd.taskId))?.renditions).toEqual({});
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(balance);
    expect(world.queues.polled).toEqual([]);
  });
});
