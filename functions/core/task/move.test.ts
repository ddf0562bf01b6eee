import { describe, expect, it } from 'vitest';
import { IllegalTransitionError } from '../errors';
import type { NotifyMessage } from '../messages';
import type { CreditChange, Log } from '../ports';
import type { RateWindow } from '../rate-window';
import { generateRequestSchema } from '../schema';
import { type MoveDeps, moveTask } from './move';
import { newTask, type Task, type TaskStatus } from './task';
import { transitions } from './transitions';

/** A logger that drops everything. */
const silentLog: Log = {
  info: () => {},
  warn: () => {},
  error: () => {},
  appendKeys: () => {},
  createChild: () => silentLog,
};

const statuses = Object.keys(transitions) as TaskStatus[];

/** A store that records each transition it is asked for, and answers `moved`. */
function world(moved = true) {
  const writes: { from: TaskStatus; patch: Partial<Task>; refund?: CreditChange; slot?: RateWindow }[] = [];
  const notified: NotifyMessage[] = [];
  const metrics: string[] = [];
  const deps: MoveDeps = {
    tasks: {
      transition: async (_id, from, patch, refund, slot) => {
        writes.push({ from, patch, refund, slot });
        return moved;
      },
    } as MoveDeps['tasks'],
    queues: {
      generate: async () => {},
      poll: async () => {},
      notify: async (message) => void notified.push(message),
    },
    log: silentLog,
    metrics: { count: (name) => void metrics.push(name), milliseconds: (name) => void metrics.push(name) },
    now: () => 5_000,
  };
  return { deps, writes, notified, metrics };
}

function task(status: TaskStatus, callBackUrl?: string): Task {
  const request = generateRequestSchema({ allowLoopback: false, allowHttp: false }).parse({
    prompt: 'a cat',
    callBackUrl,
  });
  return {
    ...newTask({
      request,
      paramJson: '{}',
      keyHash: 'h',
      credits: 60,
      provider: 'simulator',
      now: 1_000,
      retentionDays: 14,
      budgetSeconds: 600,
    }),
    status,
  };
}

describe('moveTask', () => {
  const illegal = statuses.flatMap((from) =>
    statuses.filter((to) => !transitions[from].includes(to)).map((to) => [from, to] as const),
  );

  it.each(illegal)('refuses %s → %s without writing anything', async (from, to) => {
    const { deps, writes } = world();
    await expect(moveTask(deps, task(from), to)).rejects.toBeInstanceOf(IllegalTransitionError);
    expect(writes).toEqual([]);
  });

  it('writes conditionally on the read status, with the slot, and no refund for a move that is not an end', async () => {
    const { deps, writes, notified } = world();
    const slot = { scope: 'kie', limit: 20, windowMs: 10_000 };
    const moved = await moveTask(deps, task('queued', 'https://example.com/cb'), 'submitting', {}, { slot });
    expect(moved?.status).toBe('submitting');
    expect(writes).toEqual([{ from: 'queued', patch: { status: 'submitting', updatedAt: 5_000 }, slot }]);
    expect(notified).toEqual([]);
  });

  it.each(['failed', 'rejected', 'cancelled'] as const)(
    'refunds a task that ends %s, counts it and queues its callback',
    async (to) => {
      const { deps, writes, notified } = world();
      const ended = task('queued', 'https://example.com/cb');
      await moveTask(deps, ended, to, { errorCode: 501, errorMessage: 'boom' });
      expect(writes[0]?.refund).toEqual({ keyHash: 'h', credits: 60 });
      expect(writes[0]?.patch).toMatchObject({ status: to, completedAt: 5_000, updatedAt: 5_000 });
      expect(notified).toEqual([{ taskId: ended.taskId, keyHash: 'h', event: 'generation' }]);
    },
  );

  it('charges nothing back for a success, counts it, and sends no callback without a callBackUrl', async () => {
    const { deps, writes, notified, metrics } = world();
    await moveTask(deps, task('submitted'), 'succeeded', { results: [] });
    expect(writes[0]?.refund).toBeUndefined();
    expect(metrics).toEqual(['TasksSucceeded', 'UpstreamLatency']);
    expect(notified).toEqual([]);
  });

  it('does nothing more when another writer moved the task first', async () => {
    const { deps, notified, metrics } = world(false);
    expect(await moveTask(deps, task('queued', 'https://example.com/cb'), 'failed')).toBeUndefined();
    expect([notified, metrics]).toEqual([[], []]);
  });
});
