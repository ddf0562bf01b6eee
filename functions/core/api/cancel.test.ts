import { describe, expect, it } from 'vitest';
import { addKey, seedTask, testWorld, thrown } from '../../../test/support/test-deps';
import { failureMessages } from '../errors';
import { CANCELLED_ERROR_CODE, cancelTask } from './cancel';

describe('POST /veo/cancel', () => {
  it('ends a queued task, refunds it and answers with its compact record', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    const task = await seedTask(world, key, 'queued'); // 940 left
    world.clock.now += 5000;

    const record = await cancelTask(world.deps, key, { taskId: task.taskId });
    expect(record).toMatchObject({
      taskId: task.taskId,
      successFlag: 2,
      state: 'fail',
      failMsg: failureMessages.cancelled,
      completeTime: world.clock.now,
      resultUrls: null,
    });
    expect(await world.tasks.get(task.taskId)).toMatchObject({
      status: 'cancelled',
      errorCode: CANCELLED_ERROR_CODE,
      completedAt: world.clock.now,
    });
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(1000);
    // Without a callBackUrl no one is called back; the cancellation is still an event.
    expect(world.queues.notified.map((n) => [n.message.event, n.message.change?.type])).toEqual([
      ['generation', 'cancelled'],
    ]);
  });

  it('queues the failure callback when the task has a callBackUrl', async () => {
    const world = testWorld();
    const key = await addKey(world);
    const task = await seedTask(world, key, 'queued', {
      body: { prompt: 'a cat', callBackUrl: 'https://receiver.example.com/veo' },
    });
    await cancelTask(world.deps, key, { taskId: task.taskId });
    expect(world.queues.notified).toMatchObject([
      {
        message: {
          taskId: task.taskId,
          keyHash: key.keyHash,
          event: 'generation',
          change: { type: 'cancelled' },
        },
      },
    ]);
  });

  it('refuses a task the worker has taken, and a second cancel, without refunding again', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    const taken = await seedTask(world, key, 'submitting');
    const queued = await seedTask(world, key, 'queued');
    const busy = await thrown(cancelTask(world.deps, key, { taskId: taken.taskId }));
    expect([busy.code, busy.message]).toEqual([422, 'the task can no longer be cancelled']);
    expect((await world.tasks.get(taken.taskId))?.status).toBe('submitting');

    await cancelTask(world.deps, key, { taskId: queued.taskId });
    const twice = await thrown(cancelTask(world.deps, key, { taskId: queued.taskId }));
    expect(twice.code).toBe(422);
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(1000 - 60);
  });

  it("answers another key's task, an unknown id and a malformed one alike; a missing id names the field", async () => {
    const world = testWorld();
    const [key, stranger] = [await addKey(world, 1000), await addKey(world, 1000)];
    const task = await seedTask(world, key, 'queued');
    const answers = [
      await thrown(cancelTask(world.deps, stranger, { taskId: task.taskId })),
      await thrown(cancelTask(world.deps, key, { taskId: 'veo_unknown' })),
      await thrown(cancelTask(world.deps, key, { taskId: 'not a task id!' })),
      await thrown(cancelTask(world.deps, key, {})),
    ].map((e) => [e.code, e.message]);
    expect(answers).toEqual([
      [422, 'record is null'],
      [422, 'record is null'],
      [422, 'record is null'],
      [422, 'taskId is required'],
    ]);
    expect((await world.tasks.get(task.taskId))?.status).toBe('queued');
    expect((await world.apiKeys.get(stranger.keyHash))?.credits).toBe(1000);
  });
});
