import type { CallbackChainMove, IdempotencyRecord, SweepEntry } from '../../core/ports';
import type { CallbackAttempt, RenditionJob, RenditionSlot, Task, TaskStatus } from '../../core/task/task';
import { isFinal } from '../../core/task/transitions';
import type { TransactItem } from './credits';
import { sweepIndex } from './tables';

/**
 * The items and updates DynamoTaskStore writes, built here without a call (task-store.ts sends them): how a
 * task, its sweep index entry, renditions, callbacks and Idempotency-Key records are laid out in the tables.
 */

export type TaskUpdate = NonNullable<TransactItem['Update']>;
type ItemPut = NonNullable<TransactItem['Put']>;

/** A task as stored: with the sweep index's attributes while something of it is open. */
type TaskItem = Task & {
  [sweepIndex.shard]?: string;
  [sweepIndex.at]?: number;
  [sweepIndex.starts]?: number;
};

/** The task without the index's bookkeeping. */
export function taskOf(item: Record<string, unknown> | undefined): Task | undefined {
  if (!item) return undefined;
  const { [sweepIndex.shard]: _shard, [sweepIndex.at]: _at, [sweepIndex.starts]: _starts, ...task } = item;
  return task as unknown as Task;
}

/** A new task: open on the sweep index from the start, so the sweeper ends it if nothing else has by its deadline. */
export function taskPut(table: string, task: Task): ItemPut {
  return {
    TableName: table,
    Item: isFinal(task.status)
      ? task
      : ({
          ...task,
          [sweepIndex.shard]: sweepIndex.open,
          [sweepIndex.at]: task.deadlineAt,
        } satisfies TaskItem),
    ConditionExpression: 'attribute_not_exists(taskId)',
  };
}

/** Idempotency records share the counters table, namespaced like its other items. */
export const idempotencyId = (keyHash: string, idempotencyKey: string) => `idem#${keyHash}#${idempotencyKey}`;

/** An Idempotency-Key's record, written with the task it names (the old item returned when it holds the key). */
export function idempotencyPut(table: string, record: IdempotencyRecord, now: number): ItemPut {
  return {
    TableName: table,
    Item: {
      counterId: idempotencyId(record.keyHash, record.idempotencyKey),
      bodyHash: record.bodyHash,
      taskId: record.taskId,
      expiresAt: record.expiresAt,
    },
    // An expired record may linger until TTL removes it: it no longer holds the key.
    ConditionExpression: 'attribute_not_exists(counterId) OR expiresAt < :now',
    ExpressionAttributeValues: { ':now': Math.floor(now / 1000) },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/** `SET` clauses for the defined fields of `fields`, under `path` (a map attribute) or at the top. */
function setFields(fields: object, path = '') {
  const entries = Object.entries(fields).filter(([, v]) => v !== undefined);
  return {
    set: entries.map((_, i) => `${path}#f${i} = :v${i}`).join(', '),
    names: Object.fromEntries(entries.map(([k], i) => [`#f${i}`, k])),
    values: Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v])),
  };
}

/**
 * A task's move from `from`: its changed fields. An end takes it off the sweep index in the same write (a
 * succeeded task returns to it only while a rendition is processing); an open task's sweep time may move.
 */
export function statusUpdate(
  table: string,
  taskId: string,
  from: TaskStatus,
  patch: Partial<Omit<Task, 'taskId' | 'keyHash'>>,
  sweepAt: number | undefined,
): TaskUpdate {
  const { set, names, values } = setFields(patch);
  const closes = patch.status !== undefined && isFinal(patch.status);
  const resweeps = !closes && sweepAt !== undefined;
  return {
    TableName: table,
    Key: { taskId },
    UpdateExpression:
      `SET ${set}` +
      (resweeps ? ', #sweepAt = :sweepAt' : '') +
      (closes ? ' REMOVE #sweepShard, #sweepAt' : ''),
    ConditionExpression: '#status = :from',
    ExpressionAttributeNames: {
      '#status': 'status',
      ...names,
      ...(closes && { '#sweepShard': sweepIndex.shard, '#sweepAt': sweepIndex.at }),
      ...(resweeps && { '#sweepAt': sweepIndex.at }),
    },
    ExpressionAttributeValues: { ':from': from, ...values, ...(resweeps && { ':sweepAt': sweepAt }) },
  };
}

/** A rendition's start: only on a finished task, and once per slot (again after a failure). */
export function renditionStartUpdate(
  table: string,
  taskId: string,
  slot: RenditionSlot,
  job: RenditionJob,
): TaskUpdate {
  return {
    TableName: table,
    Key: { taskId },
    // Back on the sweep index by the job's deadline, unless an earlier job's deadline holds it already (a
    // later start has a later deadline); counting the start, so the sweeper's resweep notices one it missed.
    UpdateExpression:
      'SET renditions.#slot = :job, #sweepShard = :open, #sweepAt = if_not_exists(#sweepAt, :sweepAt) ADD #starts :one',
    ConditionExpression:
      '#status = :succeeded AND (attribute_not_exists(renditions.#slot) OR renditions.#slot.#state = :failed)',
    ExpressionAttributeNames: {
      '#status': 'status',
      '#slot': slot,
      '#state': 'status',
      '#sweepShard': sweepIndex.shard,
      '#sweepAt': sweepIndex.at,
      '#starts': sweepIndex.starts,
    },
    ExpressionAttributeValues: {
      ':one': 1,
      ':job': job,
      ':succeeded': 'succeeded',
      ':failed': 'failed',
      ':open': sweepIndex.open,
      ':sweepAt': job.deadlineAt ?? job.requestedAt,
    },
  };
}

/** A processing rendition's outcome. */
export function renditionFinishUpdate(
  table: string,
  taskId: string,
  slot: RenditionSlot,
  outcome: Pick<RenditionJob, 'status' | 'key' | 'completedAt' | 'error'>,
): TaskUpdate {
  const { set, names, values } = setFields(outcome, 'renditions.#slot.');
  return {
    TableName: table,
    Key: { taskId },
    UpdateExpression: `SET ${set}`,
    ConditionExpression: 'renditions.#slot.#state = :processing',
    ExpressionAttributeNames: { '#slot': slot, '#state': 'status', ...names },
    ExpressionAttributeValues: { ':processing': 'processing', ...values },
  };
}

/**
 * A sweep index entry moved to `to`, or off the index (absent), if it is still as the sweeper read it: same
 * time, same count of rendition starts.
 */
export function resweepUpdate(table: string, from: SweepEntry, to: number | undefined): TaskUpdate {
  return {
    TableName: table,
    Key: { taskId: from.taskId },
    UpdateExpression: to === undefined ? 'REMOVE #shard, #at' : 'SET #at = :to',
    ConditionExpression: `#at = :from AND ${from.starts === 0 ? 'attribute_not_exists(#starts)' : '#starts = :starts'}`,
    ExpressionAttributeNames: {
      '#at': sweepIndex.at,
      '#starts': sweepIndex.starts,
      ...(to === undefined && { '#shard': sweepIndex.shard }),
    },
    ExpressionAttributeValues: {
      ':from': from.sweepAt,
      ...(from.starts !== 0 && { ':starts': from.starts }),
      ...(to !== undefined && { ':to': to }),
    },
  };
}

/** A submitted task stops awaiting the push of `operation` (the push came, or the sweeper polls instead). */
export function pushStopUpdate(table: string, taskId: string, operation: string): TaskUpdate {
  return {
    TableName: table,
    Key: { taskId },
    UpdateExpression: 'REMOVE #push',
    ConditionExpression: '#status = :submitted AND #push.#operation = :operation',
    ExpressionAttributeNames: { '#status': 'status', '#push': 'awaitedPush', '#operation': 'operation' },
    ExpressionAttributeValues: { ':submitted': 'submitted', ':operation': operation },
  };
}

/**
 * Callback attempts appended to the task's record; with `chain`, its callback chain moved in the same
 * write, if it is still where the caller saw it (or, first, if it does not exist yet).
 */
export function callbackUpdate(
  table: string,
  taskId: string,
  attempts: CallbackAttempt[],
  chain?: CallbackChainMove,
): TaskUpdate {
  const append = 'callbacks = list_append(if_not_exists(callbacks, :none), :attempts)';
  if (!chain) {
    return {
      TableName: table,
      Key: { taskId },
      UpdateExpression: `SET ${append}`,
      ConditionExpression: 'attribute_exists(taskId)',
      ExpressionAttributeValues: { ':none': [], ':attempts': attempts },
    };
  }
  return {
    TableName: table,
    Key: { taskId },
    UpdateExpression: `SET ${append}, callbackChains.#key = :to`,
    ConditionExpression: chain.from
      ? 'callbackChains.#key.#attempts = :made AND callbackChains.#key.#next = :next'
      : 'attribute_exists(taskId) AND attribute_not_exists(callbackChains.#key)',
    ExpressionAttributeNames: {
      '#key': chain.key,
      ...(chain.from && { '#attempts': 'attempts', '#next': 'next' }),
    },
    ExpressionAttributeValues: {
      ':none': [],
      ':attempts': attempts,
      ':to': chain.to,
      ...(chain.from && { ':made': chain.from.attempts, ':next': chain.from.next ?? '' }),
    },
  };
}

/**
 * The `callbackChains` map on a task made before it was created with every task (callbackUpdate's
 * `callbackChains.<key>` needs it); a no-op once it exists.
 */
export function callbackChainsUpdate(table: string, taskId: string): TaskUpdate {
  return {
    TableName: table,
    Key: { taskId },
    UpdateExpression: 'SET callbackChains = if_not_exists(callbackChains, :empty)',
    ConditionExpression: 'attribute_exists(taskId)',
    ExpressionAttributeValues: { ':empty': {} },
  };
}
