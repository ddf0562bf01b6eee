import { describe, expect, it } from 'vitest';
import { addKey, seedTask, testWorld, thrown } from '../../../test/support/test-deps';
import { failureMessages, idempotencyMessages } from '../errors';
import { creditBalance } from './credit';
import { submitExtension, submitTask } from './submit';

describe('submitTask', () => {
  it('writes the task queued, charges its price and queues it for the worker', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    const { taskId } = await submitTask(world.deps, key, { prompt: 'a cat', model: 'veo3', seeds: 12345 });

    const task = await world.tasks.get(taskId);
    expect(task).toMatchObject({
      status: 'queued',
      keyHash: key.keyHash,
      credits: 400,
      seeds: 12345,
      createdAt: world.clock.now,
    });
    expect(JSON.parse(task?.paramJson ?? '')).toEqual({ prompt: 'a cat', model: 'veo3', seeds: 12345 });
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(600);
    // One message: the work, carrying the `queued` change for the worker to publish; no notify message.
    expect(world.queues.generated).toEqual([
      { message: { taskId, change: { type: 'queued', at: world.clock.now, task } } },
    ]);
    expect(world.queues.notified).toEqual([]);
    expect(await creditBalance(world.deps, key)).toBe(600);
  });

  it.each([
    [{ prompt: '' }, 'prompt must not be empty'],
    [{ prompt: 'a cat', seeds: 5 }, 'seeds must be an integer between 10000 and 99999'],
    [{ prompt: 'a cat', model: 'veo9' }, 'model must be one of veo3, veo3_fast, veo3_lite'],
    ['not an object', 'The request body must be a JSON object'],
  ])('answers %j with 422 naming the problem, writing and charging nothing', async (body, message) => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    const error = await thrown(submitTask(world.deps, key, body));
    expect([error.code, error.message]).toEqual([422, message]);
    expect(world.tasks.tasks.size).toBe(0);
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(1000);
    expect(world.queues.generated).toEqual([]);
  });

  it('answers 402 with the price and the balance when the key cannot pay, writing nothing', async () => {
    const world = testWorld();
    const key = await addKey(world, 50);
    const error = await thrown(submitTask(world.deps, key, { prompt: 'a cat' }));
    expect(error.code).toBe(402);
    expect(error.message).toContain('costs 60 credits, the balance is 50');
    expect(world.tasks.tasks.size).toBe(0);
    expect(world.queues.generated).toEqual([]);
  });

  it('answers 401 when the key was revoked after it was authenticated (from the cache)', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    await world.apiKeys.revoke(key.keyHash, world.clock.now);
    const error = await thrown(submitTask(world.deps, key, { prompt: 'a cat' }));
    expect(error.code).toBe(401);
    expect(world.tasks.tasks.size).toBe(0);
  });

  it('refuses a watermark with 505 when no ffmpeg is available, charging nothing', async () => {
    const world = testWorld({ ffmpegAvailable: false });
    const key = await addKey(world, 1000);
    const error = await thrown(submitTask(world.deps, key, { prompt: 'a cat', watermark: 'mine' }));
    expect([error.code, error.message]).toEqual([505, failureMessages.watermarkDisabled]);
    expect(world.tasks.tasks.size).toBe(0);
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(1000);
  });

  it('ends and refunds a task that cannot be queued', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    world.queues.failing = new Error('SQS is down');
    await expect(submitTask(world.deps, key, { prompt: 'a cat' })).rejects.toThrow('SQS is down');
    const [task] = world.tasks.tasks.values();
    expect(task).toMatchObject({
      status: 'failed',
      errorCode: 500,
      errorMessage: failureMessages.queueUnavailable,
    });
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(1000);
  });

  it('sends the end of a task that cannot be queued with its `queued` change, so its events begin there', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    world.queues.generate = async () => {
      throw new Error('the generate queue is gone');
    };
    await expect(submitTask(world.deps, key, { prompt: 'a cat' })).rejects.toThrow(
      'the generate queue is gone',
    );
    expect(
      world.queues.notified.map((n) => [n.message.earlier?.map((c) => c.type), n.message.change?.type]),
    ).toEqual([[['queued'], 'failed']]);
  });

  describe('Idempotency-Key', () => {
    it('answers a retry with the same body with the same task, charged once', async () => {
      const world = testWorld();
      const key = await addKey(world, 1000);
      const body = { prompt: 'a cat', model: 'veo3_fast' };
      const first = await submitTask(world.deps, key, body, { idempotencyKey: 'order-1' });
      world.clock.now += 60_000;
      // The same JSON with its keys in another order is the same request.
      const again = await submitTask(
        world.deps,
        key,
        { model: 'veo3_fast', prompt: 'a cat' },
        { idempotencyKey: 'order-1' },
      );
      expect(again).toEqual(first);
      expect(world.tasks.tasks.size).toBe(1);
      expect(world.queues.generated).toHaveLength(1);
      expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(940);
    });

    it('answers the same key with another body with 422, writing nothing', async () => {
      const world = testWorld();
      const key = await addKey(world, 1000);
      await submitTask(world.deps, key, { prompt: 'a cat' }, { idempotencyKey: 'order-1' });
      const error = await thrown(
        submitTask(world.deps, key, { prompt: 'a dog' }, { idempotencyKey: 'order-1' }),
      );
      expect([error.code, error.message]).toEqual([422, idempotencyMessages.reused]);
      expect(world.tasks.tasks.size).toBe(1);
      expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(940);
    });

    it('makes a new task once the key expired (24 h)', async () => {
      const world = testWorld();
      const key = await addKey(world, 1000);
      const first = await submitTask(world.deps, key, { prompt: 'a cat' }, { idempotencyKey: 'order-1' });
      world.clock.now += 24 * 3600 * 1000 + 1000;
      const later = await submitTask(world.deps, key, { prompt: 'a cat' }, { idempotencyKey: 'order-1' });
      expect(later.taskId).not.toBe(first.taskId);
      expect(world.tasks.tasks.size).toBe(2);
    });

    it("keeps keys apart per API key: another key's same Idempotency-Key is a new task", async () => {
      const world = testWorld();
      const [a, b] = [await addKey(world), await addKey(world)];
      const first = await submitTask(world.deps, a, { prompt: 'a cat' }, { idempotencyKey: 'same' });
      const second = await submitTask(world.deps, b, { prompt: 'a cat' }, { idempotencyKey: 'same' });
      expect(second.taskId).not.toBe(first.taskId);
    });
  });

  describe('rate limit', () => {
    it("answers 429 past the key's own limit, writing and charging nothing; the window frees", async () => {
      const world = testWorld();
      const key = await addKey(world, 1000, { rateLimit: { limit: 2, windowSeconds: 10 } });
      await submitTask(world.deps, key, { prompt: 'one' });
      await submitTask(world.deps, key, { prompt: 'two' });
      const error = await thrown(submitTask(world.deps, key, { prompt: 'three' }));
      expect([error.code, error.message]).toEqual([
        429,
        'Too many requests: at most 2 new tasks per 10 seconds for this key',
      ]);
      expect(world.tasks.tasks.size).toBe(2);
      expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(880);

      world.clock.now += 10_000;
      await submitTask(world.deps, key, { prompt: 'three' });
      expect(world.tasks.tasks.size).toBe(3);
    });

    it("applies the deployment's default to a key without its own, and none when it is off", async () => {
      const limited = testWorld({ rateLimit: { limit: 1, windowSeconds: 60 } });
      const key = await addKey(limited);
      await submitTask(limited.deps, key, { prompt: 'one' });
      expect((await thrown(submitTask(limited.deps, key, { prompt: 'two' }))).code).toBe(429);

      const unlimited = testWorld({ rateLimit: undefined });
      const free = await addKey(unlimited, 10_000);
      for (let i = 0; i < 30; i++) await submitTask(unlimited.deps, free, { prompt: `task ${i}` });
      expect(unlimited.tasks.tasks.size).toBe(30);
    });

    it('answers an idempotent retry without using a slot', async () => {
      const world = testWorld();
      const key = await addKey(world, 1000, { rateLimit: { limit: 1, windowSeconds: 60 } });
      const first = await submitTask(world.deps, key, { prompt: 'a cat' }, { idempotencyKey: 'k' });
      expect(await submitTask(world.deps, key, { prompt: 'a cat' }, { idempotencyKey: 'k' })).toEqual(first);
    });
  });
});

describe('submitExtension', () => {
  it("continues the caller's finished task as a new charged task with its aspect ratio", async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    const source = await seedTask(world, key, 'succeeded', {
      body: { prompt: 'a cat', aspectRatio: '9:16' },
    });
    const { taskId } = await submitExtension(world.deps, key, {
      taskId: source.taskId,
      prompt: 'it jumps',
      model: 'quality',
    });
    expect(await world.tasks.get(taskId)).toMatchObject({
      status: 'queued',
      extendsTaskId: source.taskId,
      aspectRatio: '9:16',
      credits: 400,
      request: { prompt: 'it jumps', model: 'veo3', generationType: 'TEXT_2_VIDEO' },
    });
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(1000 - 60 - 400);
    expect(world.queues.generated.map((g) => [g.message.taskId, g.message.change?.type])).toEqual([
      [taskId, 'queued'],
    ]);
  });

  it("answers another key's task like an unknown one, and an unfinished one with 422; nothing is written", async () => {
    const world = testWorld();
    const [owner, stranger] = [await addKey(world, 1000), await addKey(world, 1000)];
    const done = await seedTask(world, owner, 'succeeded');
    const running = await seedTask(world, owner, 'submitted');
    const other = await thrown(
      submitExtension(world.deps, stranger, { taskId: done.taskId, prompt: 'more' }),
    );
    expect([other.code, other.message]).toEqual([422, 'record is null']);
    const unfinished = await thrown(
      submitExtension(world.deps, owner, { taskId: running.taskId, prompt: 'more' }),
    );
    expect([unfinished.code, unfinished.message]).toEqual([422, 'record status is not success']);
    expect(world.tasks.tasks.size).toBe(2);
    expect((await world.apiKeys.get(stranger.keyHash))?.credits).toBe(1000);
  });

  it('answers 422 for a source past the retention (its video is gone), charging nothing (issue 14 point 9)', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    const source = await seedTask(world, key, 'succeeded'); // 940 left
    // 14 days less the extension's budget: the video would expire while the extension runs.
    world.clock.now += 14 * 86_400_000 - 599_000;
    const error = await thrown(submitExtension(world.deps, key, { taskId: source.taskId, prompt: 'more' }));
    expect([error.code, error.message]).toEqual([422, 'Temporarily supports records within 14 days']);
    expect(world.tasks.tasks.size).toBe(1);
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(940);
  });
});
