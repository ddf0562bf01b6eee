import { describe, expect, it } from 'vitest';
import { generateRequestSchema } from '../../core/schema';
import { newTask, type Task } from '../../core/task';
import { sweepIndex } from './tables';
import {
  idempotencyPut,
  renditionFinishUpdate,
  resweepUpdate,
  statusUpdate,
  taskOf,
  taskPut,
} from './task-items';

// Pure layout: no DynamoDB. test/support/task-store-contract.ts runs the writes through DynamoDB Local.

const task = (extra: Partial<Task> = {}): Task => ({
  ...newTask({
    request: generateRequestSchema({ allowLoopback: false, allowHttp: false }).parse({ prompt: 'a cat' }),
    paramJson: '{"prompt":"a cat"}',
    keyHash: 'k',
    credits: 60,
    provider: 'simulator',
    now: 1_000_000,
    retentionDays: 14,
    budgetSeconds: 600,
  }),
  ...extra,
});

describe('taskPut and taskOf', () => {
  it('puts an open task on the sweep index by its deadline, and reads it back without the index', () => {
    const open = task();
    const put = taskPut('tasks', open);
    expect(put.Item).toMatchObject({ [sweepIndex.shard]: sweepIndex.open, [sweepIndex.at]: open.deadlineAt });
    expect(taskOf(put.Item)).toEqual(open);
  });

  it('leaves a task created finished off the index', () => {
    const put = taskPut('tasks', task({ status: 'failed' }));
    expect(put.Item).not.toHaveProperty(sweepIndex.shard);
  });
});

describe('statusUpdate', () => {
  it('sets only the defined fields, on the condition of the status it moves from', () => {
    const update = statusUpdate(
      'tasks',
      't1',
      'queued',
      { status: 'submitting', operation: undefined },
      undefined,
    );
    expect(update.UpdateExpression).toBe('SET #f0 = :v0');
    expect(update.ExpressionAttributeNames).toEqual({ '#status': 'status', '#f0': 'status' });
    expect(update.ExpressionAttributeValues).toEqual({ ':from': 'queued', ':v0': 'submitting' });
  });

  it('takes an ended task off the sweep index, and moves an open one’s sweep time', () => {
    const ended = statusUpdate('tasks', 't1', 'submitted', { status: 'succeeded' }, 5);
    expect(ended.UpdateExpression).toBe('SET #f0 = :v0 REMOVE #sweepShard, #sweepAt');
    expect(ended.ExpressionAttributeValues).not.toHaveProperty(':sweepAt');
    const open = statusUpdate('tasks', 't1', 'submitting', { status: 'submitted' }, 5);
    expect(open.UpdateExpression).toBe('SET #f0 = :v0, #sweepAt = :sweepAt');
    expect(open.ExpressionAttributeValues).toMatchObject({ ':sweepAt': 5 });
  });
});

describe('renditionFinishUpdate', () => {
  it('sets the outcome inside the rendition’s slot, only while it is processing', () => {
    const update = renditionFinishUpdate('tasks', 't1', '1080p_0', { status: 'ready', key: 'v.mp4' });
    expect(update.UpdateExpression).toBe('SET renditions.#slot.#f0 = :v0, renditions.#slot.#f1 = :v1');
    expect(update.ExpressionAttributeNames).toMatchObject({
      '#slot': '1080p_0',
      '#f0': 'status',
      '#f1': 'key',
    });
    expect(update.ConditionExpression).toBe('renditions.#slot.#state = :processing');
  });
});

describe('resweepUpdate', () => {
  it('holds on the entry as read: its time and its count of rendition starts (none: the attribute absent)', () => {
    const none = resweepUpdate('tasks', { taskId: 't1', sweepAt: 7, starts: 0 }, 9);
    expect(none.ConditionExpression).toBe('#at = :from AND attribute_not_exists(#starts)');
    expect(none.UpdateExpression).toBe('SET #at = :to');
    const some = resweepUpdate('tasks', { taskId: 't1', sweepAt: 7, starts: 2 }, undefined);
    expect(some.ConditionExpression).toBe('#at = :from AND #starts = :starts');
    expect(some.UpdateExpression).toBe('REMOVE #shard, #at');
    expect(some.ExpressionAttributeValues).toEqual({ ':from': 7, ':starts': 2 });
  });
});

describe('idempotencyPut', () => {
  it('takes over a record only once it expired, compared in epoch seconds as TTL keeps them', () => {
    const record = { keyHash: 'k', idempotencyKey: 'i', bodyHash: 'b', taskId: 't1', expiresAt: 100 };
    const put = idempotencyPut('counters', record, 90_500);
    expect(put.Item).toMatchObject({ counterId: 'idem#k#i', expiresAt: 100 });
    expect(put.ExpressionAttributeValues).toEqual({ ':now': 90 });
  });
});
