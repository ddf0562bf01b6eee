import { describe, expect, it } from 'vitest';
import { addKey, seedTask, testWorld } from '../../../test/support/test-deps';
import type { RenditionJob } from '../task/task';
import { NOTIFY_REDRIVES, sweep } from './sweep';

const withCallback = { prompt: 'a cat', callBackUrl: 'https://receiver.example.com/cb' };

/** The world's settings: budget 600 s, grace 300 s, renditions 3600 s (test/support/test-deps.ts). */
describe('sweep', () => {
  it('ends an unfinished task past its deadline and the grace: failed, refunded once, called back', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    const queued = await seedTask(world, key, 'queued', { body: withCallback });
    const submitted = await seedTask(world, key, 'submitted', { operation: 'op-1' });
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(1000 - 2 * 60);

    // Past the deadline but within the grace (a poll may still be finishing): nothing yet.
    world.clock.now = queued.deadlineAt + 299_000;
    expect(await sweep(world.deps)).toEqual({
      tasksEnded: 0,
      renditionsEnded: 0,
      deadLetters: 0,
      pollsStarted: 0,
    });
    expect((await world.tasks.get(queued.taskId))?.status).toBe('queued');

    world.clock.now = queued.deadlineAt + 301_000;
    expect(await sweep(world.deps)).toEqual({
      tasksEnded: 2,
      renditionsEnded: 0,
      deadLetters: 0,
      pollsStarted: 0,
    });
    for (const task of [queued, submitted]) {
      expect(await world.tasks.get(task.taskId)).toMatchObject({
        status: 'failed',
        errorCode: 501,
        errorMessage: 'Generation did not finish within 600 seconds',
      });
    }
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(1000);
    // One notify message per end (the outbox): its event, and the callback where one was asked for.
    expect(world.queues.notified.map(({ message: m }) => [m.taskId, m.event, m.change?.type])).toEqual([
      [queued.taskId, 'generation', 'failed'],
      [submitted.taskId, 'generation', 'failed'],
    ]);
    expect(world.metrics.counts.filter((c) => c.name === 'TasksSwept')).toHaveLength(2);

    // Off the index in the same write: the next sweep finds nothing, refunds nothing again.
    expect(world.tasks.sweepAt.size).toBe(0);
    expect(await sweep(world.deps)).toEqual({
      tasksEnded: 0,
      renditionsEnded: 0,
      deadLetters: 0,
      pollsStarted: 0,
    });
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(1000);
  });

  it('never ends a task found before its deadline: a push check left from an earlier submit goes back to it', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    // Failed over from an upstream that pushes to one that does not: submitted again, with a new operation.
    const task = await seedTask(world, key, 'submitted', {
      operation: 'op-2',
      awaitedPush: { operation: 'op-1', until: world.clock.now + 180_000 },
    });
    world.tasks.sweepAt.set(task.taskId, world.clock.now + 180_000 - 300_000);
    world.clock.now += 181_000;
    expect(await sweep(world.deps)).toMatchObject({ tasksEnded: 0, pollsStarted: 0 });
    expect((await world.tasks.get(task.taskId))?.status).toBe('submitted');
    expect(world.queues.polled).toEqual([]);
    expect(world.tasks.sweepAt.get(task.taskId)).toBe(task.deadlineAt);
  });

  it('leaves a task that ended meanwhile alone, and one before its deadline', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    const early = await seedTask(world, key, 'queued');
    world.clock.now += 60_000;
    const late = await seedTask(world, key, 'queued');
    world.clock.now = early.deadlineAt + 301_000;
    await sweep(world.deps);
    expect((await world.tasks.get(early.taskId))?.status).toBe('failed');
    expect((await world.tasks.get(late.taskId))?.status).toBe('queued');
    expect(world.tasks.sweepAt.get(late.taskId)).toBe(late.deadlineAt);
  });

  it('ends a rendition past its own deadline (refunded, called back) and keeps watching a younger one', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    const done = await seedTask(world, key, 'succeeded', {
      results: [
        { key: 'videos/a/0.mp4', originKey: 'videos/a/0.mp4', resolution: '720p' },
        { key: 'videos/a/1.mp4', originKey: 'videos/a/1.mp4', resolution: '720p' },
      ],
    });
    const job = (deadlineAt: number): RenditionJob => ({
      resolution: '4k',
      index: 0,
      status: 'processing',
      requestedAt: deadlineAt - 3_600_000,
      deadlineAt,
      credits: 120,
      callBackUrl: 'https://receiver.example.com/4k',
    });
    const now = world.clock.now;
    const charge = { keyHash: key.keyHash, credits: 120 };
    await world.tasks.startRendition(done.taskId, '4k_0', job(now + 3_600_000), charge);
    await world.tasks.startRendition(done.taskId, '4k_1', { ...job(now + 7_200_000), index: 1 }, charge);
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(1000 - 60 - 240);

    world.clock.now = now + 3_600_000 + 301_000;
    expect(await sweep(world.deps)).toEqual({
      tasksEnded: 0,
      renditionsEnded: 1,
      deadLetters: 0,
      pollsStarted: 0,
    });
    const task = await world.tasks.get(done.taskId);
    expect(task?.status).toBe('succeeded');
    expect(task?.renditions?.['4k_0']).toMatchObject({
      status: 'failed',
      error: 'Rendition did not finish within 3600 seconds',
    });
    expect(task?.renditions?.['4k_1']?.status).toBe('processing');
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(1000 - 60 - 120);
    expect(
      world.queues.notified.map(({ message: m }) => [m.taskId, m.event, m.rendition, m.change?.type]),
    ).toEqual([[done.taskId, '4k', '4k_0', 'renditionFailed']]);
    // Watched again at the younger job's deadline; off the index once nothing is open.
    expect(world.tasks.sweepAt.get(done.taskId)).toBe(now + 7_200_000);
    await world.tasks.finishRendition(done.taskId, '4k_1', { status: 'ready', key: 'k', completedAt: 1 });
    world.clock.now = now + 7_200_000 + 301_000;
    expect(await sweep(world.deps)).toEqual({
      tasksEnded: 0,
      renditionsEnded: 0,
      deadLetters: 0,
      pollsStarted: 0,
    });
    expect(world.tasks.sweepAt.has(done.taskId)).toBe(false);
  });

  it('drains the dead-letter queues, ending each named task still unfinished', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    const stuck = await seedTask(world, key, 'queued', { body: withCallback });
    const finished = await seedTask(world, key, 'succeeded');
    await world.tasks.startRendition(
      finished.taskId,
      '4k_0',
      { resolution: '4k', index: 0, status: 'processing', requestedAt: world.clock.now, credits: 120 },
      { keyHash: key.keyHash, credits: 120 },
    );
    world.deadLetters.park('generate', { taskId: stuck.taskId, attempt: 2 });
    world.deadLetters.park('notify', { taskId: finished.taskId, event: 'generation' });
    world.deadLetters.park('poll', { taskId: finished.taskId, rendition: '4k_0' });
    world.deadLetters.park('poll', { not: 'a message' });

    expect(await sweep(world.deps)).toEqual({
      tasksEnded: 1,
      renditionsEnded: 1,
      deadLetters: 4,
      pollsStarted: 0,
    });
    expect(await world.tasks.get(stuck.taskId)).toMatchObject({
      status: 'failed',
      errorMessage:
        'The task could not be processed after repeated attempts; it was ended and its credits were refunded',
    });
    expect((await world.tasks.get(finished.taskId))?.status).toBe('succeeded');
    expect((await world.tasks.get(finished.taskId))?.renditions?.['4k_0']?.status).toBe('failed');
    // Both tasks' credits are back but the finished generation's.
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(1000 - 60);
    // The notify letter is sent again as it was (its callback not made yet), counted as redriven.
    expect(world.queues.notified.map(({ message: m }) => [m.taskId, m.change?.type, m.redriven])).toEqual([
      [stuck.taskId, 'failed', undefined],
      [finished.taskId, undefined, 1],
      [finished.taskId, 'renditionFailed', undefined],
    ]);
    expect(world.deadLetters.parked).toEqual([]);
    expect(world.deadLetters.removed).toHaveLength(4);
    // Counted for the sweeper's alarm (infra/constructs/alarms.ts), each once it is handled.
    expect(world.metrics.counts.filter((c) => c.name === 'DeadLettersSwept')).toHaveLength(4);
  });

  it('ends and refunds a task whose reserved-slot message was dead-lettered, as a generate one', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    const waiting = await seedTask(world, key, 'queued');
    world.deadLetters.park('reserved', {
      taskId: waiting.taskId,
      slot: { scope: 'kie', at: world.clock.now },
    });
    expect(await sweep(world.deps)).toEqual({
      tasksEnded: 1,
      renditionsEnded: 0,
      deadLetters: 1,
      pollsStarted: 0,
    });
    expect((await world.tasks.get(waiting.taskId))?.status).toBe('failed');
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(1000);
  });

  it('sends a notify letter back instead of ending its running task, a few times at most', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    const running = await seedTask(world, key, 'submitted', { operation: 'operations/1' });
    const change = { type: 'submitted' as const, at: world.clock.now, task: running };
    world.deadLetters.park('notify', { taskId: running.taskId, event: 'generation', change });
    expect(await sweep(world.deps)).toMatchObject({ tasksEnded: 0, deadLetters: 1 });
    expect((await world.tasks.get(running.taskId))?.status).toBe('submitted');
    expect(world.queues.notified.map(({ message: m }) => [m.change?.type, m.redriven])).toEqual([
      ['submitted', 1],
    ]);
    // Dead-lettered again after its last redrive: dropped (logged), not sent back forever.
    world.deadLetters.park('notify', { ...world.queues.notified[0]?.message, redriven: NOTIFY_REDRIVES });
    expect(await sweep(world.deps)).toMatchObject({ deadLetters: 1 });
    expect(world.queues.notified).toHaveLength(1);
  });

  it('keeps a dead letter whose task could not be ended, for the next sweep', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    const stuck = await seedTask(world, key, 'queued', { body: withCallback });
    world.deadLetters.park('generate', { taskId: stuck.taskId });
    world.queues.failing = new Error('SQS unreachable');
    expect((await sweep(world.deps)).deadLetters).toBe(0);
    expect(world.deadLetters.parked).toHaveLength(1);
    world.queues.failing = undefined;
    expect((await sweep(world.deps)).deadLetters).toBe(1);
  });
});
