import { describe, expect, it } from 'vitest';
import { IllegalTransitionError } from '../errors';
import type { TaskEvent } from '../events';
import type { GenerateMessage, NotifyMessage } from '../messages';
import type { CreditChange, Log } from '../ports';
import type { RateWindow } from '../rate-window';
import { generateRequestSchema } from '../schema';
import type { TaskChange } from './change';
import { carryingChange, type MoveDeps, moveTask, publishingAtOnce } from './move';
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
function world(moved: boolean | { slotAt: number } = true) {
  const writes: { from: TaskStatus; patch: Partial<Task>; refund?: CreditChange; slot?: RateWindow }[] = [];
  const notified: NotifyMessage[] = [];
  const metrics: string[] = [];
  const deps: MoveDeps = {
    tasks: {
      transition: async (_id, from, patch, { refund, slot } = {}) => {
        writes.push({ from, patch, refund, slot });
        return moved;
      },
    } as MoveDeps['tasks'],
    queues: {
      generate: async () => {},
      reserved: async () => {},
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

  it('tells the caller when the slot it took is (the store may have moved it later)', async () => {
    const { deps } = world({ slotAt: 5_550 });
    const slot = { scope: 'kie', limit: 20, windowMs: 10_000, at: 5_150 };
    const heard: number[] = [];
    await moveTask(deps, task('queued'), 'submitting', {}, { slot, granted: (at) => heard.push(at) });
    expect(heard).toEqual([5_550]);
  });

  it.each(['failed', 'rejected', 'cancelled'] as const)(
    'refunds a task that ends %s, counts it and queues its callback',
    async (to) => {
      const { deps, writes, notified } = world();
      const ended = task('queued', 'https://example.com/cb');
      await moveTask(deps, ended, to, { errorCode: 501, errorMessage: 'boom' });
      expect(writes[0]?.refund).toEqual({ keyHash: 'h', credits: 60 });
      expect(writes[0]?.patch).toMatchObject({ status: to, completedAt: 5_000, updatedAt: 5_000 });
      // One message: the outbox of the end's event (with the task as written) and of its callback.
      expect(notified).toEqual([
        {
          taskId: ended.taskId,
          keyHash: 'h',
          event: 'generation',
          change: { type: to, at: 5_000, task: { ...ended, ...writes[0]?.patch } },
        },
      ]);
    },
  );

  it('charges nothing back for a success, counts it, and queues its event without a callBackUrl too', async () => {
    const { deps, writes, notified, metrics } = world();
    await moveTask(deps, task('submitted'), 'succeeded', { results: [] });
    expect(writes[0]?.refund).toBeUndefined();
    expect(metrics).toEqual(['TasksSucceeded', 'UpstreamLatency']);
    expect(notified.map((m) => [m.event, m.change?.type, m.change?.task.status])).toEqual([
      ['generation', 'succeeded', 'succeeded'],
    ]);
  });

  it('queues the event of a submit, not of the intent before it nor of a retry back to queued', async () => {
    const { deps, notified } = world();
    await moveTask(deps, task('queued'), 'submitting');
    await moveTask(deps, task('submitting'), 'queued');
    expect(notified).toEqual([]);
    await moveTask(deps, task('submitting'), 'submitted', { operation: 'op-1' });
    expect(notified.map((m) => [m.change?.type, m.change?.task.operation, m.change?.at])).toEqual([
      ['submitted', 'op-1', 5_000],
    ]);
  });

  it('goes on without the event of a submit when the notify queue refuses it', async () => {
    const { deps, metrics } = world();
    deps.queues.notify = async () => {
      throw new Error('SQS is down');
    };
    expect((await moveTask(deps, task('submitting'), 'submitted'))?.status).toBe('submitted');
    expect(metrics).toEqual(['EventsNotQueued']);
  });

  it('does nothing more when another writer moved the task first', async () => {
    const { deps, notified, metrics } = world(false);
    expect(await moveTask(deps, task('queued', 'https://example.com/cb'), 'failed')).toBeUndefined();
    expect([notified, metrics]).toEqual([[], []]);
  });
});

describe("carryingChange: the submit's queued change, carried by the generate message", () => {
  const queued = (t: Task): TaskChange => ({ type: 'queued', at: 1_000, task: t });

  it('sends it with the first change the stage queues for the task: one message for both', async () => {
    const { deps, notified } = world();
    const t = task('submitting');
    await carryingChange(deps, queued(t), async (d) => {
      // A callback retry of another task, and a message without a change, are not the one to carry it.
      await d.queues.notify({ taskId: 'other', event: 'generation', change: queued(task('queued')) });
      await moveTask(d, t, 'submitted', { operation: 'op-1' });
      await moveTask(d, { ...t, status: 'submitted' }, 'failed', { errorCode: 501 });
    });
    expect(notified.map((m) => [m.taskId, m.earlier?.map((c) => c.type), m.change?.type])).toEqual([
      ['other', undefined, 'queued'],
      [t.taskId, ['queued'], 'submitted'],
      [t.taskId, undefined, 'failed'],
    ]);
  });

  it.each([
    ['generate', 'a retry later'],
    ['reserved', 'a wait for its slot of the quota'],
  ] as const)(
    'sends it alone when the stage queues no change (%s: %s), and never twice',
    async (queue, _why) => {
      const { deps, notified } = world();
      const sent: GenerateMessage[] = [];
      deps.queues[queue] = async (message) => void sent.push(message);
      const t = task('queued');
      const slot = { scope: 'kie', at: 1 };
      await carryingChange(deps, queued(t), (d) =>
        d.queues[queue]({ taskId: t.taskId, attempt: 1, change: queued(t), slot }, 5),
      );
      expect(notified.map((m) => [m.taskId, m.earlier, m.change?.type])).toEqual([
        [t.taskId, undefined, 'queued'],
      ]);
      // The message the stage sends back does not carry it again.
      expect(sent).toEqual([{ taskId: t.taskId, attempt: 1, slot }]);
    },
  );

  it('sends it alone when the stage throws too: it may be the last delivery before the dead-letter queue', async () => {
    const { deps, notified } = world();
    const t = task('queued');
    const failing = carryingChange(deps, queued(t), async () => {
      throw new Error('DynamoDB is down');
    });
    await expect(failing).rejects.toThrow('DynamoDB is down');
    expect(notified.map((m) => [m.taskId, m.change?.type])).toEqual([[t.taskId, 'queued']]);
  });

  it('runs the stage as it is without a held change', async () => {
    const { deps, notified } = world();
    await carryingChange(deps, undefined, (d) => moveTask(d, task('submitting'), 'submitted').then(() => {}));
    expect(notified.map((m) => [m.earlier, m.change?.type])).toEqual([[undefined, 'submitted']]);
  });
});

describe('publishingAtOnce: a stage that holds the event bus (the worker)', () => {
  const queued = (t: Task): TaskChange => ({ type: 'queued', at: 1_000, task: t });
  /** The world's dependencies with an event bus that records each publish (or refuses them all). */
  function publishing(refuse = false) {
    const w = world();
    const published: TaskEvent[][] = [];
    const deps = publishingAtOnce({
      ...w.deps,
      events: {
        publish: async (...events: TaskEvent[]) => {
          if (refuse) throw new Error('PutEvents refused');
          published.push(events);
        },
      },
      videos: { put: async () => {}, open: async () => undefined as never, url: async (key: string) => key },
    });
    return { ...w, deps, published };
  }

  it("publishes the submit's queued and submitted in one request and sends no notify message for them", async () => {
    const { deps, notified, published } = publishing();
    const t = task('submitting');
    await carryingChange(deps, queued(t), (d) =>
      moveTask(d, t, 'submitted', { operation: 'op-1' }).then(() => {}),
    );
    expect(notified).toEqual([]);
    expect(published.map((events) => events.map((e) => [e.id, e.detail.status]))).toEqual([
      [
        [`${t.taskId}:queued`, 'queued'],
        [`${t.taskId}:submitted`, 'submitted'],
      ],
    ]);
  });

  it('still sends an end to the notify queue: its callback and Step Functions answer are the notifier’s', async () => {
    const { deps, notified, published } = publishing();
    const t = task('submitted', 'https://example.com/cb');
    await moveTask(deps, t, 'failed', { errorCode: 501 });
    expect(published).toEqual([]);
    expect(notified.map((m) => m.change?.type)).toEqual(['failed']);
  });

  it('sends the changes to the notify queue when the bus refuses them: the notifier publishes them', async () => {
    const { deps, notified } = publishing(true);
    const t = task('submitting');
    await carryingChange(deps, queued(t), (d) =>
      moveTask(d, t, 'submitted', { operation: 'op-1' }).then(() => {}),
    );
    expect(notified.map((m) => [m.earlier?.map((c) => c.type), m.change?.type])).toEqual([
      [['queued'], 'submitted'],
    ]);
  });

  it('leaves a stage without an event bus as it is', () => {
    const { deps } = world();
    expect(publishingAtOnce(deps)).toBe(deps);
  });
});
