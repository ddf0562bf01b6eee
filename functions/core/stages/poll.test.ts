import { describe, expect, it } from 'vitest';
import type { PollMessage } from '../messages';
import type { Log, OperationStatus } from '../ports';
import type { Task } from '../task/task';
import { closerAspectRatio } from '../upstream-request';
import { backoffMs } from './generate';
import { type PollDeps, pollDelaySeconds, pollGeneration } from './poll';

/** A logger that drops everything. */
const silentLog: Log = {
  info: () => {},
  warn: () => {},
  error: () => {},
  appendKeys: () => {},
  createChild: () => silentLog,
};

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
  /** A poller whose store counts reads and whose upstream answers from a script. */
  function poller(answers: OperationStatus[], task: Partial<Task> = {}) {
    const sent: { message: PollMessage; delay: number }[] = [];
    const stored = {
      taskId: 't1',
      keyHash: 'h',
      status: 'submitted',
      operation: 'op-1',
      deadlineAt: 400_000,
      updatedAt: 100_000,
      request: { model: 'veo3_fast' },
      ...task,
    } as Task;
    const world = { reads: 0, sent, finished: [] as string[] };
    const deps = {
      tasks: {
        get: async () => {
          world.reads++;
          return stored;
        },
        transition: async (_id: string, _from: string, patch: Partial<Task>) => {
          world.finished.push(String(patch.status));
          return true;
        },
      },
      queues: { poll: async (message: PollMessage, delay: number) => void sent.push({ message, delay }) },
      provider: { name: 'simulator', poll: async () => answers.shift() ?? { state: 'pending' } },
      settings: { pollIntervalSeconds: 10, budgetSeconds: 60 },
      log: silentLog,
      metrics: { count: () => {}, milliseconds: () => {} },
      now: () => 200_000,
    } as unknown as PollDeps;
    return { deps, world };
  }

  it('reads nothing while the upstream says pending, when the message carries operation and deadline', async () => {
    const { deps, world } = poller([{ state: 'pending' }]);
    const message = { taskId: 't1', polls: 1, operation: 'op-1', deadlineAt: 400_000, submittedAt: 120_000 };
    await pollGeneration(deps, message);
    expect(world.reads).toBe(0);
    // 80 s into the generation: ask again in a quarter of that.
    expect(world.sent).toEqual([{ message: { ...message, polls: 2 }, delay: 20 }]);
  });

  it('dates an older message without submittedAt by its polls at the first interval', async () => {
    const { deps, world } = poller([{ state: 'pending' }]);
    await pollGeneration(deps, { taskId: 't1', polls: 5, operation: 'op-1', deadlineAt: 400_000 });
    expect(world.sent[0]).toEqual({
      message: { taskId: 't1', polls: 6, operation: 'op-1', deadlineAt: 400_000, submittedAt: 140_000 },
      delay: 15,
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

  it('reads the task first without operation (a push, an older message)', async () => {
    const { deps, world } = poller([{ state: 'pending' }]);
    await pollGeneration(deps, { taskId: 't1' });
    expect(world.reads).toBe(1);
    // Dated by the task's submit write (updatedAt 100 s): 100 s in, a quarter of that.
    expect(world.sent[0]).toEqual({
      message: { taskId: 't1', polls: 1, operation: 'op-1', deadlineAt: 400_000, submittedAt: 100_000 },
      delay: 25,
    });
  });
});
