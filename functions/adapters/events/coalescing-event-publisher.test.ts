import { describe, expect, it } from 'vitest';
import type { TaskEvent } from '../../core/events';
import {
  batchesOf,
  CoalescingEventPublisher,
  type EventBatchSink,
  putBatches,
} from './coalescing-event-publisher';

const event = (taskId: string) =>
  ({ detailType: 'Veo Task Queued', time: 0, detail: { taskId } }) as TaskEvent;

/** A sink that records each put and answers from `refuse` (the task ids it refuses) or throws `down`. */
function sink(refuse: string[] = [], down?: Error) {
  const puts: string[][] = [];
  const target: EventBatchSink = {
    putEach: async (events) => {
      puts.push(events.map((e) => e.detail.taskId));
      if (down) throw down;
      return events.map((e) =>
        refuse.includes(e.detail.taskId) ? new Error(`refused ${e.detail.taskId}`) : undefined,
      );
    },
  };
  return { puts, target };
}

describe('CoalescingEventPublisher', () => {
  it('puts the events published in one turn together, in order, and settles each publish on its own', async () => {
    const { puts, target } = sink(['b2']);
    const publisher = new CoalescingEventPublisher(target);
    const outcomes = await Promise.allSettled([
      publisher.publish(event('a')),
      publisher.publish(event('b1'), event('b2')),
      publisher.publish(event('c')),
    ]);
    expect(puts).toEqual([['a', 'b1', 'b2', 'c']]);
    expect(outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : o.status))).toEqual([
      'fulfilled',
      'Error: refused b2',
      'fulfilled',
    ]);
  });

  it('fails every publish of a put that failed as a whole', async () => {
    const { target } = sink([], new Error('EventBridge unreachable'));
    const publisher = new CoalescingEventPublisher(target);
    const outcomes = await Promise.allSettled([publisher.publish(event('a')), publisher.publish(event('b'))]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
  });

  it('puts a later turn apart, and nothing for no events', async () => {
    const { puts, target } = sink();
    const publisher = new CoalescingEventPublisher(target);
    await publisher.publish(event('a'));
    await publisher.publish();
    await publisher.publish(event('b'));
    expect(puts).toEqual([['a'], ['b']]);
  });
});

describe('batchesOf', () => {
  it('keeps each request within 10 entries and the size limit; an entry over it goes alone', () => {
    const sizes = (batches: number[][]) => batches.map((b) => b.length);
    expect(
      sizes(
        batchesOf(
          Array.from({ length: 23 }, () => 1),
          (n) => n,
        ),
      ),
    ).toEqual([10, 10, 3]);
    expect(batchesOf([100, 100, 60, 300, 10], (n) => n, 250)).toEqual([[100, 100], [60], [300], [10]]);
  });
});

describe('putBatches', () => {
  it('fails only the events of a request that failed, not those an earlier request delivered', async () => {
    const sent: number[][] = [];
    const outcomes = await putBatches([[1, 2], [3, 4], [5]], async (batch) => {
      if (batch.includes(3)) throw new Error('queue down');
      sent.push(batch);
      return batch.map((n) => (n === 5 ? new Error('refused 5') : undefined));
    });
    expect(sent).toEqual([[1, 2], [5]]);
    expect(outcomes.map((o) => o?.message)).toEqual([
      undefined,
      undefined,
      'queue down',
      'queue down',
      'refused 5',
    ]);
  });
});
