import { describe, expect, it, vi } from 'vitest';
import { ScriptedProvider } from '../../../test/support/in-memory-adapters';
import { InMemoryTaskStore } from '../../../test/support/in-memory-task-store';
import { addKey, seedTask, testWorld } from '../../../test/support/test-deps';
import { cancelTask } from '../api/cancel';
import { submitTask } from '../api/submit';
import type { OperationStatus, TransitionOptions } from '../ports';
import { upstreamMarginOf } from '../rate-window';
import { generateRequestSchema } from '../schema';
import { carryingChange } from '../task/move';
import { newTask, type Task, type TaskStatus } from '../task/task';
import { closerAspectRatio } from '../upstream-request';
import { backoffMs, slotDelaySeconds, startGeneration, submitLeadMs } from './generate';
import { type PollDeps, pollDelaySeconds, pollGeneration } from './poll';
import { sweep } from './sweep';

describe('Auto aspect ratio', () => {
  it.each([
    [1920, 1080, '16:9'],
    [1080, 1920, '9:16'],
    [1000, 1000, '16:9'], // a square is as far from both: the default wins
    [1000, 1100, '9:16'],
    [1100, 1000, '16:9'],
    [4000, 100, '16:9'],
    [100, 4000, '9:16'],
  ])('%i×%i → %s', (width, height, expected) => {
    expect(closerAspectRatio(width, height)).toBe(expected);
  });
});

describe('retry pacing', () => {
  it('backs off exponentially with full jitter, at least 1 s and at most 2 minutes', () => {
    expect([0, 1, 2, 3].map((a) => backoffMs(a, () => 1))).toEqual([2000, 4000, 8000, 16000]);
    expect(backoffMs(20, () => 1)).toBe(120_000);
    expect(backoffMs(3, () => 0)).toBe(1000);
    expect(backoffMs(3, () => 0.5)).toBe(8000);
  });

  it('waits a quarter of the time the generation has run, between half and three times the first interval', () => {
    const settings = { pollIntervalSeconds: 10 };
    expect([0, 11, 20, 40, 60, 100, 120, 360, 3600].map((s) => pollDelaySeconds(settings, s * 1000))).toEqual(
      [5, 5, 5, 10, 15, 25, 30, 30, 30],
    );
    // Scaled down locally, never below SQS's one-second granularity.
    expect(pollDelaySeconds({ pollIntervalSeconds: 1 }, 0)).toBe(1);
    expect(pollDelaySeconds({ pollIntervalSeconds: 1 }, 60_000)).toBe(3);
  });
});

describe('pollGeneration', () => {
  /** A store that counts reads and remembers the statuses it moved tasks to. */
  class CountingTaskStore extends InMemoryTaskStore {
    reads = 0;
    readonly finished: string[] = [];

    override async get(taskId: string): Promise<Task | undefined> {
      this.reads++;
      return super.get(taskId);
    }

    override async transition(
      taskId: string,
      from: TaskStatus,
      patch: Partial<Omit<Task, 'taskId' | 'keyHash'>>,
      options?: TransitionOptions,
    ): Promise<boolean | { slotAt: number }> {
      const moved = await super.transition(taskId, from, patch, options);
      if (moved) this.finished.push(String(patch.status));
      return moved;
    }
  }

  /** A poller on the in-memory adapters, whose upstream answers from a script, at 200 s on its clock. */
  function poller(answers: OperationStatus[], task: Partial<Task> = {}) {
    const world = testWorld({ pollIntervalSeconds: 10, budgetSeconds: 60 });
    world.clock.now = 200_000;
    const tasks = new CountingTaskStore(world.apiKeys);
    world.apiKeys.keys.set('h', { keyHash: 'h', name: 'k', credits: 0, webhookSecret: 'whsec_x' });
    const request = generateRequestSchema(world.deps.settings.urlPolicy).parse({ prompt: 'a cat' });
    tasks.tasks.set('t1', {
      ...newTask({
        request,
        paramJson: '{}',
        keyHash: 'h',
        credits: 60,
        provider: 'simulator',
        now: 0,
        retentionDays: 14,
        budgetSeconds: 60,
      }),
      taskId: 't1',
      status: 'submitted',
      operation: 'op-1',
      deadlineAt: 400_000,
      updatedAt: 100_000,
      ...task,
    });
    const deps: PollDeps = { ...world.deps, tasks, provider: new ScriptedProvider(answers) };
    const sent = world.queues.polled;
    return {
      deps,
      world: {
        get reads() {
          return tasks.reads;
        },
        sent,
        finished: tasks.finished,
      },
    };
  }

  it('reads nothing while the upstream says pending, when the message carries operation and deadline', async () => {
    const { deps, world } = poller([{ state: 'pending' }]);
    const message = { taskId: 't1', polls: 1, operation: 'op-1', deadlineAt: 400_000, submittedAt: 120_000 };
    await pollGeneration(deps, message);
    expect(world.reads).toBe(0);
    // 80 s into the generation: ask again in a quarter of that.
    expect(world.sent).toEqual([{ message: { ...message, polls: 2 }, delaySeconds: 20 }]);
  });

  it('dates an older message without submittedAt by its polls at the first interval', async () => {
    const { deps, world } = poller([{ state: 'pending' }]);
    await pollGeneration(deps, { taskId: 't1', polls: 5, operation: 'op-1', deadlineAt: 400_000 });
    expect(world.sent[0]).toEqual({
      message: { taskId: 't1', polls: 6, operation: 'op-1', deadlineAt: 400_000, submittedAt: 140_000 },
      delaySeconds: 15,
    });
  });

  it('reads the task for an ending answer, and past the deadline', async () => {
    const failed = poller([{ state: 'failed', reason: 'boom' }]);
    await pollGeneration(failed.deps, { taskId: 't1', operation: 'op-1', deadlineAt: 400_000 });
    expect([failed.world.reads, failed.world.finished]).toEqual([1, ['failed']]);

    const late = poller([{ state: 'pending' }], { deadlineAt: 1_000 });
    await pollGeneration(late.deps, { taskId: 't1', operation: 'op-1', deadlineAt: 1_000 });
    expect([late.world.reads, late.world.finished, late.world.sent]).toEqual([1, ['failed'], []]);
  });

  it('asks and reads nothing for a task this poller ended (the scheduled poll after a push); a redelivery reads', async () => {
    const { deps, world } = poller([
      { state: 'done', videos: ['v'] },
      { state: 'done', videos: ['v'] },
    ]);
    // The push's poll: no operation in the message, so it reads, asks, and ends the task.
    await pollGeneration(deps, { taskId: 't1', pushed: true });
    expect([world.reads, world.finished]).toEqual([1, ['succeeded']]);
    // The worker's scheduled poll arrives later, in the same container.
    const scheduled = { taskId: 't1', polls: 0, operation: 'op-1', deadlineAt: 400_000 };
    await pollGeneration(deps, scheduled);
    expect(world.reads).toBe(1);
    expect((deps.provider as ScriptedProvider).answers).toHaveLength(1); // the upstream was not asked
    // A redelivery may be the message whose end never reached the notify queue: it still reads.
    await pollGeneration(deps, scheduled, { redelivered: true });
    expect(world.reads).toBe(2);
    // Another container (another store) knows nothing of it: it asks and reads as before.
    const other = poller([{ state: 'done', videos: ['v'] }], { status: 'succeeded' });
    await pollGeneration(other.deps, scheduled);
    expect(other.world.reads).toBe(1);
  });

  it('reads the task first without operation (an older message), and polls on on the schedule', async () => {
    const { deps, world } = poller([{ state: 'pending' }]);
    await pollGeneration(deps, { taskId: 't1' });
    expect(world.reads).toBe(1);
    // Dated by the task's submit write (updatedAt 100 s): 100 s in, a quarter of that.
    expect(world.sent[0]).toEqual({
      message: {
        taskId: 't1',
        polls: 1,
        operation: 'op-1',
        deadlineAt: 400_000,
        submittedAt: 100_000,
        shape: 'veo3_fast/720p',
      },
      delaySeconds: 25,
    });
  });

  it('asks again in 2 s, then on the schedule, when the push the task awaited came before the upstream was done', async () => {
    // Vertex AI's bucket may notify a written video before its operation is marked done.
    const { deps, world } = poller([{ state: 'pending' }, { state: 'pending' }, { state: 'pending' }], {
      awaitedPush: { operation: 'op-1', until: 280_000 },
    });
    await pollGeneration(deps, { taskId: 't1', pushed: true });
    expect(world.sent[0]?.delaySeconds).toBe(2);
    // This chain polls the task now: the sweeper's push check finds nothing awaited.
    expect((await deps.tasks.get('t1'))?.awaitedPush).toBeUndefined();
    // The next poll (the chain's, naming the operation) is on the schedule again: a quarter of 100 s.
    const next = world.sent[0]?.message;
    if (!next) throw new Error('no poll sent');
    expect(next.pushed).toBeUndefined();
    await pollGeneration(deps, next);
    expect(world.sent[1]?.delaySeconds).toBe(25);
    // The same push delivered again (or a second one) starts no second chain.
    await pollGeneration(deps, { taskId: 't1', pushed: true });
    expect(world.sent).toHaveLength(2);
    // Nor does a push's poll for a task that awaited none, or awaited another operation: it is polled.
    for (const awaitedPush of [undefined, { operation: 'op-0', until: 280_000 }]) {
      const other = poller([{ state: 'pending' }], { awaitedPush });
      await pollGeneration(other.deps, { taskId: 't1', pushed: true });
      expect([other.world.reads, other.world.sent]).toEqual([1, []]);
    }
  });

  it("looks again in a second at a push that came before the worker's move to submitted, until the deadline", async () => {
    const { deps, world } = poller([{ state: 'done', videos: ['v'] }], {
      status: 'submitting',
      operation: undefined,
    });
    await pollGeneration(deps, { taskId: 't1', polls: 2, pushed: true });
    // Still the push's poll: once submitted, it polls on only if the task still awaits its push.
    expect(world.sent).toEqual([{ message: { taskId: 't1', polls: 3, pushed: true }, delaySeconds: 1 }]);
    expect(world.finished).toEqual([]);
    // Past the deadline it stops: the worker's lease and the sweeper end such a task.
    deps.now = () => 400_001;
    await pollGeneration(deps, { taskId: 't1' });
    expect(world.sent).toHaveLength(1);
  });
});

describe('a task through the worker and the poller, on the in-memory adapters', () => {
  async function submitted(settings: Parameters<typeof testWorld>[0] = {}) {
    const world = testWorld(settings);
    const key = await addKey(world, 1000);
    return { world, key };
  }

  it("reads no task on the submit's message's first delivery, and still never submits one cancelled meanwhile", async () => {
    const { world, key } = await submitted();
    const reads: string[] = [];
    const get = world.tasks.get.bind(world.tasks);
    world.tasks.get = (taskId) => {
      reads.push(taskId);
      return get(taskId);
    };
    const run = async (redelivered: boolean) => {
      for (const { message } of world.queues.generated.splice(0)) {
        await carryingChange(world.deps, message.change, (deps) => startGeneration(deps, message), {
          firstDelivery: !redelivered,
        });
      }
    };
    const { taskId } = await submitTask(world.deps, key, { prompt: 'a cat' });
    await run(false);
    expect([reads, world.provider.submitted.length]).toEqual([[], 1]);
    expect((await world.tasks.get(taskId))?.status).toBe('submitted');

    // Cancelled while its message waited: the carried copy says queued, the conditional move says no.
    const cancelled = await submitTask(world.deps, key, { prompt: 'a dog' });
    await cancelTask(world.deps, key, { taskId: cancelled.taskId });
    await run(false);
    expect(world.provider.submitted.length).toBe(1);
    expect((await world.tasks.get(cancelled.taskId))?.status).toBe('cancelled');

    // A redelivery reads the task.
    reads.length = 0;
    const third = await submitTask(world.deps, key, { prompt: 'a bird' });
    await run(true);
    expect(reads).toEqual([third.taskId]);
  });

  it('submits a queued task upstream once, then stores its video and tells the client', async () => {
    const { world, key } = await submitted();
    const task = await seedTask(world, key, 'queued', {
      body: { prompt: 'a cat', seeds: 12345, callBackUrl: 'https://receiver.example.com/veo' },
    });
    await startGeneration(world.deps, { taskId: task.taskId });
    // A redelivered generate message finds it submitted: no second generation.
    await startGeneration(world.deps, { taskId: task.taskId });
    expect(world.provider.submitted.map((r) => [r.taskId, r.prompt, r.seed])).toEqual([
      [task.taskId, 'a cat', 12345],
    ]);
    expect(await world.tasks.get(task.taskId)).toMatchObject({
      status: 'submitted',
      operation: 'operations/1',
    });
    const [poll] = world.queues.polled;
    expect(poll).toEqual({
      message: {
        taskId: task.taskId,
        polls: 0,
        operation: 'operations/1',
        deadlineAt: task.deadlineAt,
        submittedAt: world.clock.now,
        shape: 'veo3_fast/720p',
      },
      delaySeconds: 10,
    });

    world.provider.answers.push({ state: 'done', videos: ['generated-video'] });
    await pollGeneration(world.deps, poll?.message ?? { taskId: task.taskId });
    const key0 = `videos/${task.taskId}/0.mp4`;
    expect(world.videos.objects.get(key0)?.bytes.toString()).toBe('generated-video');
    expect(await world.tasks.get(task.taskId)).toMatchObject({
      status: 'succeeded',
      results: [{ key: key0, originKey: key0, resolution: '720p' }],
    });
    // One message per change: submitted, then the end (its event and its callback).
    expect(world.queues.notified.map((n) => [n.message.event, n.message.change?.type])).toEqual([
      ['generation', 'submitted'],
      ['generation', 'succeeded'],
    ]);
    // Charged once, kept: the video was made.
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(940);
  });

  it('sends the end again only from a redelivery: the message that ended the task may have died before it', async () => {
    const { world, key } = await submitted();
    const task = await seedTask(world, key, 'submitted', { operation: 'operations/3' });
    const poll = { taskId: task.taskId, operation: 'operations/3', deadlineAt: task.deadlineAt };
    const done = { state: 'done' as const, videos: ['v'] };
    world.provider.answers.push(done, done, done);
    // The task is written succeeded, then sending its notify message fails: the poll message fails.
    const notifyQueue = world.queues.notify.bind(world.queues);
    world.queues.notify = async () => {
      throw new Error('SQS unreachable');
    };
    await expect(pollGeneration(world.deps, poll)).rejects.toThrow('SQS unreachable');
    world.queues.notify = notifyQueue;
    expect((await world.tasks.get(task.taskId))?.status).toBe('succeeded');
    // Another chain's first delivery (a push's poll, the chain's next one) leaves the end alone …
    await pollGeneration(world.deps, poll, { redelivered: false });
    expect(world.queues.notified).toEqual([]);
    // … the redelivered message sends it.
    await pollGeneration(world.deps, poll, { redelivered: true });
    expect(world.queues.notified.map((n) => n.message.change?.type)).toEqual(['succeeded']);
  });

  it('keeps the unstamped original and stores a stamped copy when a watermark was asked for', async () => {
    const { world, key } = await submitted();
    const task = await seedTask(world, key, 'submitted', {
      operation: 'operations/9',
      body: { prompt: 'a cat', watermark: 'mine' },
    });
    world.provider.answers.push({ state: 'done', videos: ['raw'] });
    await pollGeneration(world.deps, { taskId: task.taskId });
    expect(world.videos.objects.get(`videos/${task.taskId}/0-original.mp4`)?.bytes.toString()).toBe('raw');
    expect(world.videos.objects.get(`videos/${task.taskId}/0.mp4`)?.bytes.toString()).toBe('raw|mine');
  });

  it("ends and refunds a task found half-submitted past the worker's timeout, rather than risk generating twice", async () => {
    const { world, key } = await submitted();
    const task = await seedTask(world, key, 'submitting');
    world.clock.now += 60_000; // the worker's timeout: the copy that wrote the intent is dead
    await startGeneration(world.deps, { taskId: task.taskId });
    expect(world.provider.submitted).toEqual([]);
    expect(await world.tasks.get(task.taskId)).toMatchObject({ status: 'failed', errorCode: 500 });
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(1000);
  });

  it('leaves a younger submitting alone (issue 14 defect 4): the duplicate looks again once the lease ends', async () => {
    const { world, key } = await submitted();
    const task = await seedTask(world, key, 'submitting');
    world.clock.now += 20_000; // the first copy may still be submitting
    await startGeneration(world.deps, { taskId: task.taskId, attempt: 1 });
    expect(world.provider.submitted).toEqual([]);
    expect((await world.tasks.get(task.taskId))?.status).toBe('submitting');
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(940);
    expect(world.queues.generated).toEqual([
      { message: { taskId: task.taskId, attempt: 1 }, delaySeconds: 41 },
    ]);
    // The first copy's submit lands meanwhile: the retry finds it submitted and leaves it running.
    await world.tasks.transition(task.taskId, 'submitting', { status: 'submitted', operation: 'op-7' });
    world.clock.now += 41_000;
    await startGeneration(world.deps, { taskId: task.taskId, attempt: 1 });
    expect((await world.tasks.get(task.taskId))?.status).toBe('submitted');
  });

  it('sends the first poll again when a redelivery finds the task submitted (issue 14 defect 1)', async () => {
    const { world, key } = await submitted();
    const task = await seedTask(world, key);
    // The submit is recorded, then sending the first poll fails: the message is redelivered.
    const poll = world.queues.poll.bind(world.queues);
    world.queues.poll = async () => {
      throw new Error('SQS unreachable');
    };
    await expect(startGeneration(world.deps, { taskId: task.taskId })).rejects.toThrow('SQS unreachable');
    expect((await world.tasks.get(task.taskId))?.status).toBe('submitted');
    world.queues.poll = poll;
    await startGeneration(world.deps, { taskId: task.taskId });
    expect(world.provider.submitted).toHaveLength(1);
    expect(world.queues.polled).toEqual([
      {
        message: {
          taskId: task.taskId,
          polls: 0,
          operation: 'operations/1',
          deadlineAt: task.deadlineAt,
          submittedAt: world.clock.now,
          shape: 'veo3_fast/720p',
        },
        delaySeconds: 10,
      },
    ]);
  });

  it('awaits the push of an upstream that pushes instead of polling; the sweeper polls it once the push check passes', async () => {
    const { world, key } = await submitted({ pushUrl: 'https://api.example.com/internal/upstream-callback' });
    world.provider.pushes = true;
    const task = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: task.taskId });
    const submittedAt = world.clock.now;
    expect(world.provider.submitted[0]?.pushUrl).toContain(`taskId=${task.taskId}`);
    expect(await world.tasks.get(task.taskId)).toMatchObject({
      status: 'submitted',
      awaitedPush: { operation: 'operations/1', until: submittedAt + 180_000 },
    });
    // No poll beside the push, not even from a redelivery: the sweep index holds the check.
    await startGeneration(world.deps, { taskId: task.taskId });
    expect(world.queues.polled).toEqual([]);

    // Before the check (grace 300 s), the sweeper leaves it alone.
    world.clock.now = submittedAt + 179_000;
    expect(await sweep(world.deps)).toMatchObject({ pollsStarted: 0, tasksEnded: 0 });
    expect(world.queues.polled).toEqual([]);

    // Past it, no push came: the sweeper starts the polls with the worker's own first poll, at once.
    world.clock.now = submittedAt + 181_000;
    expect(await sweep(world.deps)).toMatchObject({ pollsStarted: 1, tasksEnded: 0 });
    expect(world.queues.polled).toEqual([
      {
        message: {
          taskId: task.taskId,
          polls: 0,
          operation: 'operations/1',
          deadlineAt: task.deadlineAt,
          submittedAt,
          shape: 'veo3_fast/720p',
        },
        delaySeconds: 0,
      },
    ]);
    expect(world.metrics.counts.map((c) => c.name)).toContain('PushesNotHeard');
    // The sweeper's chain polls it now: a push heard late, ahead of its generation's end, adds none.
    expect((await world.tasks.get(task.taskId))?.awaitedPush).toBeUndefined();
    await pollGeneration(world.deps, { taskId: task.taskId, pushed: true });
    expect(world.queues.polled).toHaveLength(1);
    // Its entry went back to the deadline: the next sweeps start nothing more, and end it only past it.
    expect(await sweep(world.deps)).toMatchObject({ pollsStarted: 0, tasksEnded: 0 });
    expect((await world.tasks.get(task.taskId))?.status).toBe('submitted');
    world.clock.now = task.deadlineAt + 301_000;
    expect(await sweep(world.deps)).toMatchObject({ pollsStarted: 0, tasksEnded: 1 });
    expect(world.queues.polled).toHaveLength(1);
  });

  it('polls an upstream that pushes when no push URL is configured (nothing would push)', async () => {
    const { world, key } = await submitted();
    world.provider.pushes = true;
    const task = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: task.taskId });
    expect((await world.tasks.get(task.taskId))?.awaitedPush).toBeUndefined();
    expect(world.queues.polled.map((p) => p.delaySeconds)).toEqual([10]);
  });

  it("waits in the queue for the upstream's quota instead of submitting past it", async () => {
    const { world, key } = await submitted({
      upstreamQuota: { scope: 'simulator', limit: 1, windowMs: 20_000 },
    });
    const [a, b, c] = [await seedTask(world, key), await seedTask(world, key), await seedTask(world, key)];
    const start = world.clock.now;
    await startGeneration(world.deps, { taskId: a.taskId });
    world.clock.now += 500;
    await startGeneration(world.deps, { taskId: b.taskId });
    await startGeneration(world.deps, { taskId: c.taskId });
    expect(world.provider.submitted.map((r) => r.taskId)).toEqual([a.taskId]);
    expect((await world.tasks.get(b.taskId))?.status).toBe('queued');
    // Each reserves the next free slot, a window (and our margin) apart, and is delayed to just before it:
    // SQS counts whole seconds, the worker waits the rest. (a's slot was taken a moment ahead.)
    const window = 20_000 + upstreamMarginOf(20_000);
    const slotB = { scope: 'simulator', at: start + submitLeadMs + window };
    const slotC = { scope: 'simulator', at: start + submitLeadMs + 2 * window };
    expect(world.queues.reservations).toEqual([
      { message: { taskId: b.taskId, slot: slotB }, delaySeconds: slotDelaySeconds(slotB.at, start + 500) },
      { message: { taskId: c.taskId, slot: slotC }, delaySeconds: slotDelaySeconds(slotC.at, start + 500) },
    ]);
    expect(slotDelaySeconds(slotB.at, start + 500)).toBe(17);

    // Delivered at its slot: submitted on the reservation, without taking another slot.
    world.clock.now = slotB.at;
    await startGeneration(world.deps, { taskId: b.taskId, slot: slotB });
    expect(world.provider.submitted.map((r) => r.taskId)).toEqual([a.taskId, b.taskId]);
    // A task arriving now finds c's reservation ahead of it: it reserves the slot after.
    const d = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: d.taskId });
    expect(world.queues.reservations.at(-1)?.message).toEqual({
      taskId: d.taskId,
      slot: { scope: 'simulator', at: start + submitLeadMs + 3 * window },
    });
  });

  it('fetches the upstream’s credentials before it takes a slot, so a slow token fetch does not send the submit late', async () => {
    const { world, key } = await submitted({
      upstreamQuota: { scope: 'simulator', limit: 1, windowMs: 20_000 },
    });
    const steps: string[] = [];
    world.provider.readyCredentials = async () => {
      steps.push('credentials');
      world.clock.now += 700; // a cold token fetch
    };
    const transition = world.tasks.transition.bind(world.tasks);
    world.tasks.transition = (...args) => {
      steps.push(args[2].status ?? '');
      return transition(...args);
    };
    const task = await seedTask(world, key);
    const start = world.clock.now;
    await startGeneration(world.deps, { taskId: task.taskId });
    expect(steps).toEqual(['credentials', 'submitting', 'submitted']);
    // The slot was taken (a moment ahead) once the fetch was done, not before it.
    expect(world.tasks.windows.get('simulator')?.grants).toEqual([start + 700 + submitLeadMs]);
  });

  it('submits all the same when fetching the credentials first failed: a failure is the submit’s to meet', async () => {
    const { world, key } = await submitted();
    world.provider.readyCredentials = () => Promise.reject(new Error('secret unreachable for a moment'));
    const task = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: task.taskId });
    expect(world.provider.submitted).toHaveLength(1);
    expect((await world.tasks.get(task.taskId))?.status).toBe('submitted');
  });

  /**
   * A world with a window of one (20 s unless said), a's slot taken and b's reserved (c's too with three);
   * claim writes of 1 s.
   */
  const slowClaims = async (tasks: number, windowMs = 20_000) => {
    const { world, key } = await submitted({
      upstreamQuota: { scope: 'simulator', limit: 1, windowMs },
    });
    const seeded = [];
    for (let i = 0; i < tasks; i++) seeded.push(await seedTask(world, key));
    for (const t of seeded) await startGeneration(world.deps, { taskId: t.taskId });
    const slot = world.queues.reservations[0]?.message.slot;
    if (!slot) throw new Error('not reserved');
    // Delivered half a second early, but the claim's write takes a second: the slot has passed.
    world.clock.now = slot.at - 500;
    const transition = world.tasks.transition.bind(world.tasks);
    let slow = true;
    world.tasks.transition = async (...args) => {
      const done = await transition(...args);
      if (slow && args[2].status === 'submitting') {
        slow = false;
        world.clock.now += 1_000;
      }
      return done;
    };
    return { world, slot, tasks: seeded };
  };

  /** Runs `work` with the world's clock on fake timers: a wait in process moves it. */
  const onFakeTime = async <T>(world: { clock: { now: number } }, work: () => Promise<T>): Promise<T> => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    const at = world.clock.now;
    try {
      vi.setSystemTime(at);
      Object.defineProperty(world.clock, 'now', { get: () => Date.now(), configurable: true });
      const done = work();
      await vi.runAllTimersAsync();
      return await done;
    } finally {
      const now = Date.now();
      vi.useRealTimers();
      Object.defineProperty(world.clock, 'now', { value: now, writable: true, configurable: true });
    }
  };

  it('moves a slot reached late (a slow write) ahead in one write, as a slot taken then, and sends on it', async () => {
    const { world, slot, tasks } = await slowClaims(2);
    const [a, b] = tasks as [Task, Task];
    await startGeneration(world.deps, { taskId: b.taskId, slot });
    expect(world.log.lines.filter((l) => l.message === 'slot moved ahead')).toHaveLength(1);
    expect(world.log.lines.filter((l) => l.message === 'slot missed before the submit')).toHaveLength(0);
    // Submitted once, on the moved slot: a slot taken now when it was reached (the store's writes here are
    // instant), the missed one given back in the same write; the task never went back to the queue.
    expect(world.provider.submitted.map((r) => r.taskId)).toEqual([a.taskId, b.taskId]);
    expect(world.tasks.windows.get('simulator')?.grants.at(-1)).toBe(slot.at + 500 + submitLeadMs);
    expect(world.tasks.windows.get('simulator')?.grants).not.toContain(slot.at);
    expect(world.queues.reservations).toHaveLength(1);
    expect((await world.tasks.get(b.taskId))?.status).toBe('submitted');
  });

  it('carries the reservation anchored on a slot reached late with it; its holder submits where it went', async () => {
    const { world, slot, tasks } = await slowClaims(3);
    const [a, b, c] = tasks as [Task, Task, Task];
    const slotC = world.queues.reservations[1]?.message.slot;
    if (!slotC) throw new Error('not reserved');
    await startGeneration(world.deps, { taskId: b.taskId, slot });
    // c's reservation, a window after b's slot, held every window b could move to: it moved with it, so
    // b kept its place in the line rather than stepping back behind c and leaving its window's slot unused.
    expect(world.log.lines.filter((l) => l.message === 'slot missed before the submit')).toHaveLength(0);
    expect(world.provider.submitted.map((r) => r.taskId)).toEqual([a.taskId, b.taskId]);
    const carried = slotC.at + 500 + submitLeadMs;
    expect(world.tasks.windows.get('simulator')?.grants).toEqual([
      expect.any(Number),
      slot.at + 500 + submitLeadMs,
      carried,
    ]);
    expect(world.queues.reservations).toHaveLength(2);

    // c's message comes as sent, for its slot's first time: c reads where its slot went and submits there.
    const submittedAt: number[] = [];
    const submit = world.provider.submit.bind(world.provider);
    world.provider.submit = (request) => {
      submittedAt.push(world.clock.now);
      return submit(request);
    };
    world.clock.now = slotC.at - 2_000;
    await onFakeTime(world, () => startGeneration(world.deps, { taskId: c.taskId, slot: slotC }));
    expect(world.provider.submitted.map((r) => r.taskId)).toEqual([a.taskId, b.taskId, c.taskId]);
    expect(submittedAt).toEqual([carried]);
  });

  it('steps back from a slot reached late when the window has no room to carry the reservation after it', async () => {
    const { world, slot, tasks } = await slowClaims(3);
    const [a, b, c] = tasks as [Task, Task, Task];
    const slotC = world.queues.reservations[1]?.message.slot;
    if (!slotC) throw new Error('not reserved');
    // A slot off the chain (an earlier move's, say) 0.6 s after the window that c's reservation ends: c
    // carried as far as b moves (0.5 s late, taken again submitLeadMs ahead) would share a window with it.
    const window = 20_000 + upstreamMarginOf(20_000);
    const log = world.tasks.windows.get('simulator');
    world.tasks.windows.set('simulator', { grants: [...(log?.grants ?? []), slotC.at + window + 600] });
    await startGeneration(world.deps, { taskId: b.taskId, slot });
    // No slot within the wait, so b steps back, its missed slot given back, and reserves the first free.
    expect(world.log.lines.filter((l) => l.message === 'slot missed before the submit')).toHaveLength(1);
    expect(world.provider.submitted.map((r) => r.taskId)).toEqual([a.taskId]);
    expect(world.queues.reservations.at(-1)?.message).toEqual({
      taskId: b.taskId,
      slot: { scope: 'simulator', at: slotC.at + 2 * window + 600 },
    });
    expect(world.tasks.windows.get('simulator')?.grants).not.toContain(slot.at);
    expect(world.tasks.windows.get('simulator')?.grants).toContain(slotC.at);
    expect((await world.tasks.get(b.taskId))?.status).toBe('queued');
    expect((await world.tasks.get(c.taskId))?.status).toBe('queued');
  });

  it('takes a slot now for a reservation it reached late, carrying the next with it: the line loses only the delay', async () => {
    const { world, key } = await submitted({
      upstreamQuota: { scope: 'simulator', limit: 1, windowMs: 20_000 },
    });
    const [a, b, c] = [await seedTask(world, key), await seedTask(world, key), await seedTask(world, key)];
    await startGeneration(world.deps, { taskId: a.taskId });
    await startGeneration(world.deps, { taskId: b.taskId });
    await startGeneration(world.deps, { taskId: c.taskId });
    const [slotB, slotC] = world.queues.reservations.map((g) => g.message.slot);
    if (!slotB || !slotC) throw new Error('no reservations');
    // b comes 2 s after its slot: too late to use it. It takes a slot now, its missed one given back and
    // c's (a window after it) carried as far in the same write; the log never holds a slot nobody uses.
    world.clock.now = slotB.at + 2_000;
    await onFakeTime(world, () => startGeneration(world.deps, { taskId: b.taskId, slot: slotB }));
    expect(world.provider.submitted.map((r) => r.taskId)).toEqual([a.taskId, b.taskId]);
    const carried = slotC.at + 2_000 + submitLeadMs;
    expect(world.tasks.windows.get('simulator')?.grants).toEqual([slotB.at + 2_000 + submitLeadMs, carried]);
    expect(world.queues.reservations).toHaveLength(2);

    // c's message comes after its slot's first time and before where it went: c is not late, it waits.
    world.clock.now = slotC.at + 1_000;
    await onFakeTime(world, () => startGeneration(world.deps, { taskId: c.taskId, slot: slotC }));
    expect(world.provider.submitted.map((r) => r.taskId)).toEqual([a.taskId, b.taskId, c.taskId]);
    expect(world.tasks.windows.get('simulator')?.grants.at(-1)).toBe(carried);
  });

  it('waits in process for a reservation whose message came up to its delivery lead and a second early, and hops one earlier', async () => {
    const { world, key } = await submitted({
      upstreamQuota: { scope: 'simulator', limit: 1, windowMs: 20_000 },
    });
    const [a, b] = [await seedTask(world, key), await seedTask(world, key)];
    await startGeneration(world.deps, { taskId: a.taskId });
    await startGeneration(world.deps, { taskId: b.taskId });
    const slot = world.queues.reservations[0]?.message.slot;
    if (!slot) throw new Error('not reserved');
    // 4 s early (an earlier hop's rounding): back to the reserved queue, delayed to 2–3 s before the slot.
    world.clock.now = slot.at - 4_000;
    await startGeneration(world.deps, { taskId: b.taskId, slot });
    expect(world.queues.reservations.at(-1)).toEqual({
      message: { taskId: b.taskId, slot },
      delaySeconds: 2,
    });
    expect(world.provider.submitted.map((r) => r.taskId)).toEqual([a.taskId]);

    // 3 s early, as a delay sent at once delivers it: the worker waits for the slot (reading where it is
    // shortly before) and submits on it.
    world.clock.now = slot.at - 3_000;
    await onFakeTime(world, () => startGeneration(world.deps, { taskId: b.taskId, slot }));
    expect(world.provider.submitted.map((r) => r.taskId)).toEqual([a.taskId, b.taskId]);
    expect(world.queues.reservations).toHaveLength(2);
    expect(world.tasks.windows.get('simulator')?.grants).toContain(slot.at);
  });

  it('reaches a reservation past SQS’s 15-minute delay in hops, and fails a task whose deadline comes first', async () => {
    const { world, key } = await submitted({
      upstreamQuota: { scope: 'simulator', limit: 1, windowMs: 20_000 },
    });
    const task = await seedTask(world, key);
    const slot = { scope: 'simulator', at: world.clock.now + 1_000_000 };
    await startGeneration(world.deps, { taskId: task.taskId, slot });
    expect(world.provider.submitted).toEqual([]);
    expect(world.queues.reservations).toEqual([
      { message: { taskId: task.taskId, slot }, delaySeconds: 900 },
    ]);

    // The window full and the deadline before the next slot: the task fails and is refunded at once.
    const late = await seedTask(world, key, 'queued', { deadlineAt: world.clock.now + 10_000 });
    await startGeneration(world.deps, { taskId: (await seedTask(world, key)).taskId });
    await startGeneration(world.deps, { taskId: late.taskId });
    expect(await world.tasks.get(late.taskId)).toMatchObject({ status: 'failed', errorCode: 501 });
  });

  it('refunds a generation the upstream failed', async () => {
    const { world, key } = await submitted();
    const task = await seedTask(world, key, 'submitted', { operation: 'operations/1' });
    world.provider.answers.push({ state: 'failed', reason: 'boom' });
    await pollGeneration(world.deps, { taskId: task.taskId });
    expect(await world.tasks.get(task.taskId)).toMatchObject({
      status: 'failed',
      errorCode: 501,
      errorMessage: 'Generation failed: boom',
    });
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(1000);
  });

  it('polls again shortly after a transient completion error instead of waiting out the visibility (point 9)', async () => {
    const { world, key } = await submitted();
    const task = await seedTask(world, key, 'submitted', { operation: 'operations/3' });
    world.provider.answers.push({ state: 'done', videos: ['v'] });
    const put = world.videos.put.bind(world.videos);
    world.videos.put = async () => {
      throw new Error('S3 503 SlowDown');
    };
    await pollGeneration(world.deps, { taskId: task.taskId, polls: 4 });
    expect(world.queues.polled).toEqual([{ message: { taskId: task.taskId, polls: 5 }, delaySeconds: 10 }]);
    expect((await world.tasks.get(task.taskId))?.status).toBe('submitted');

    world.videos.put = put;
    world.provider.answers.push({ state: 'done', videos: ['v'] });
    await pollGeneration(world.deps, { taskId: task.taskId, polls: 5 });
    expect((await world.tasks.get(task.taskId))?.status).toBe('succeeded');
  });
});

describe('pollGeneration: every video, at the resolution asked', () => {
  it('stores each video of a two-sample 1080p task, in order, as 1080p', async () => {
    const world = testWorld();
    const key = await addKey(world, 1000);
    const task = await seedTask(world, key, 'submitted', {
      operation: 'operations/1',
      asked: { resolution: '1080p', durationSeconds: 8, generateAudio: true, sampleCount: 2 },
    });
    world.provider.answers.push({ state: 'done', videos: ['first', 'second'] });
    await pollGeneration(world.deps, { taskId: task.taskId });
    const done = await world.tasks.get(task.taskId);
    expect(done?.status).toBe('succeeded');
    expect(done?.results).toEqual([
      { key: `videos/${task.taskId}/0.mp4`, originKey: `videos/${task.taskId}/0.mp4`, resolution: '1080p' },
      { key: `videos/${task.taskId}/1.mp4`, originKey: `videos/${task.taskId}/1.mp4`, resolution: '1080p' },
    ]);
  });
});
