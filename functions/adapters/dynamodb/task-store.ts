import {
  type CancellationReason,
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { IdempotencyConflictError } from '../../core/errors';
import type {
  ApiKey,
  CallbackChainMove,
  CreditChange,
  IdempotencyRecord,
  SweepEntry,
  TaskCursor,
  TaskStore,
  TransitionOptions,
} from '../../core/ports';
import type { RateWindow, SlotClaim } from '../../core/rate-window';
import type { CallbackAttempt, RenditionJob, RenditionSlot, Task, TaskStatus } from '../../core/task/task';
import { chargeRefusal, creditUpdate, type TransactItem } from './credits';
import { SlotTransactions } from './slot-transactions';
import { sweepIndex } from './tables';
import {
  callbackChainsUpdate,
  callbackUpdate,
  idempotencyId,
  idempotencyPut,
  pushStopUpdate,
  renditionFinishUpdate,
  renditionStartUpdate,
  resweepUpdate,
  statusUpdate,
  type TaskUpdate,
  taskOf,
  taskPut,
} from './task-items';

export interface DynamoTaskStoreOptions {
  client: DynamoDBDocumentClient;
  tasksTable: string;
  apiKeysTable: string;
  /** Holds the Idempotency-Key records (layout `counterTable`); needed only by the API. */
  countersTable?: string;
}

/** Thrown inside a slot transaction's handlers when the task's own condition failed: another writer moved it first. */
const taskMoved = new Error('the task is no longer in the expected status');

/** Tasks in DynamoDB; credits move in the same transaction as the task write they pay for. */
export class DynamoTaskStore implements TaskStore {
  private readonly slotTransactions: SlotTransactions;

  constructor(private readonly options: DynamoTaskStoreOptions) {
    this.slotTransactions = new SlotTransactions(options.client, () => this.countersTable());
  }

  async createCharged(
    task: Task,
    charge: CreditChange,
    { idempotency, rate }: { idempotency?: IdempotencyRecord; rate?: RateWindow } = {},
  ): Promise<void> {
    const items: TransactItem[] = [
      { Put: taskPut(this.options.tasksTable, task) },
      creditUpdate(this.options.apiKeysTable, charge, 'charge'),
    ];
    if (idempotency) items.push({ Put: idempotencyPut(this.countersTable(), idempotency, task.createdAt) });
    await this.slotTransactions.write(items, rate, {
      // A concurrent duplicate with the same Idempotency-Key wins over everything else.
      beforeSlot: ([, , idem]) => {
        if (idempotency && idem?.Code === 'ConditionalCheckFailed') {
          throw new IdempotencyConflictError({
            bodyHash: idem.Item?.bodyHash?.S ?? '',
            taskId: idem.Item?.taskId?.S ?? '',
          });
        }
      },
      afterSlot: ([, key]) => {
        if (key?.Code === 'ConditionalCheckFailed') throw chargeRefusal(key.Item);
      },
    });
  }

  async findIdempotency(
    keyHash: string,
    idempotencyKey: string,
    now: number,
  ): Promise<IdempotencyRecord | undefined> {
    const out = await this.options.client.send(
      new GetCommand({
        TableName: this.countersTable(),
        Key: { counterId: idempotencyId(keyHash, idempotencyKey) },
        ConsistentRead: true,
      }),
    );
    const item = out.Item;
    if (!item || Number(item.expiresAt) < Math.floor(now / 1000)) return undefined;
    return {
      keyHash,
      idempotencyKey,
      bodyHash: String(item.bodyHash),
      taskId: String(item.taskId),
      expiresAt: Number(item.expiresAt),
    };
  }

  private countersTable(): string {
    const table = this.options.countersTable;
    if (!table) throw new Error('DynamoTaskStore: countersTable is required for idempotency records');
    return table;
  }

  async get(taskId: string): Promise<Task | undefined> {
    const out = await this.options.client.send(
      new GetCommand({ TableName: this.options.tasksTable, Key: { taskId }, ConsistentRead: true }),
    );
    return taskOf(out.Item);
  }

  async getWithOwner(taskId: string, keyHash: string): Promise<{ task?: Task; owner?: ApiKey }> {
    const { client, tasksTable, apiKeysTable } = this.options;
    const keys = {
      [tasksTable]: { Keys: [{ taskId }], ConsistentRead: true },
      [apiKeysTable]: { Keys: [{ keyHash }], ConsistentRead: true },
    };
    const out = await client.send(new BatchGetCommand({ RequestItems: keys }));
    // Two small items are practically never left unprocessed; if they are, read them one by one.
    const unprocessed = Object.keys(out.UnprocessedKeys ?? {}).length > 0;
    const task = unprocessed ? await this.get(taskId) : taskOf(out.Responses?.[tasksTable]?.[0]);
    const owner = unprocessed
      ? ((
          await client.send(
            new GetCommand({ TableName: apiKeysTable, Key: { keyHash }, ConsistentRead: true }),
          )
        ).Item as ApiKey | undefined)
      : (out.Responses?.[apiKeysTable]?.[0] as ApiKey | undefined);
    return { task, owner };
  }

  async listByKey(
    keyHash: string,
    limit: number,
    cursor?: TaskCursor,
    createdAfter = 0,
  ): Promise<{ tasks: Task[]; next?: TaskCursor }> {
    const out = await this.options.client.send(
      new QueryCommand({
        TableName: this.options.tasksTable,
        IndexName: 'byKey',
        KeyConditionExpression: 'keyHash = :keyHash AND createdAt > :after',
        ExpressionAttributeValues: { ':keyHash': keyHash, ':after': createdAfter },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: cursor && { ...cursor },
      }),
    );
    const last = out.LastEvaluatedKey;
    return {
      tasks: (out.Items ?? []).flatMap((item) => taskOf(item) ?? []),
      next: last && {
        taskId: String(last.taskId),
        keyHash: String(last.keyHash),
        createdAt: Number(last.createdAt),
      },
    };
  }

  freeSlots(window: SlotClaim): number {
    return this.slotTransactions.freeSlots(window);
  }

  slotFreeInMs(window: SlotClaim): number {
    return this.slotTransactions.slotFreeInMs(window);
  }

  slotTime(scope: string, at: number): Promise<number> {
    return this.slotTransactions.slotTime(scope, at);
  }

  async transition(
    taskId: string,
    from: TaskStatus,
    patch: Partial<Omit<Task, 'taskId' | 'keyHash'>>,
    { refund, slot, sweepAt }: TransitionOptions = {},
  ): Promise<boolean | { slotAt: number }> {
    const update = statusUpdate(this.options.tasksTable, taskId, from, patch, sweepAt);
    if (!slot) return this.conditionalWrite(update, refund && { change: refund, direction: 'refund' });
    const items: TransactItem[] = [{ Update: update }];
    if (refund && refund.credits !== 0) items.push(creditUpdate(this.options.apiKeysTable, refund, 'refund'));
    return this.slotWrite(items, slot);
  }

  async reserveSlot(
    taskId: string,
    windows: readonly SlotClaim[],
    until: number,
    status: TaskStatus = 'queued',
  ): Promise<{ scope: string; at: number } | undefined> {
    const still: TransactItem = {
      ConditionCheck: {
        TableName: this.options.tasksTable,
        Key: { taskId },
        ConditionExpression: '#status = :status',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':status': status },
      },
    };
    const moved = (reasons: CancellationReason[]) => {
      if (reasons[0]?.Code === 'ConditionalCheckFailed') throw taskMoved;
    };
    try {
      return await this.slotTransactions.write([still], windows, { beforeSlot: moved }, until);
    } catch (error) {
      if (error === taskMoved) return undefined;
      throw error;
    }
  }

  async startRendition(
    taskId: string,
    slot: RenditionSlot,
    job: RenditionJob,
    charge?: CreditChange,
    rate?: RateWindow,
  ): Promise<boolean> {
    const update = renditionStartUpdate(this.options.tasksTable, taskId, slot, job);
    if (!rate) return this.conditionalWrite(update, charge && { change: charge, direction: 'charge' });
    const items: TransactItem[] = [{ Update: update }];
    if (charge && charge.credits !== 0) items.push(creditUpdate(this.options.apiKeysTable, charge, 'charge'));
    const written = await this.slotWrite(items, rate, (reasons) => {
      const key = reasons[1];
      if (items.length > 1 && key?.Code === 'ConditionalCheckFailed') throw chargeRefusal(key.Item);
    });
    return written !== false;
  }

  /**
   * The task update (first of `items`) with a slot of `rate`, in one transaction: false when the task's
   * own condition failed (another writer got there first), else when the slot is; `afterSlot` says what
   * other failures mean.
   */
  private async slotWrite(
    items: TransactItem[],
    rate: SlotClaim,
    afterSlot?: (reasons: CancellationReason[]) => void,
  ): Promise<false | { slotAt: number }> {
    try {
      const granted = await this.slotTransactions.write(items, rate, {
        beforeSlot: ([task]) => {
          if (task?.Code === 'ConditionalCheckFailed') throw taskMoved;
        },
        afterSlot,
      });
      // A write with a window always grants one (undefined is for writes without).
      return { slotAt: granted?.at ?? Date.now() };
    } catch (error) {
      if (error === taskMoved) return false;
      throw error;
    }
  }

  async dueForSweep(before: number, limit: number): Promise<SweepEntry[]> {
    const out = await this.options.client.send(
      new QueryCommand({
        TableName: this.options.tasksTable,
        IndexName: sweepIndex.name,
        KeyConditionExpression: '#shard = :open AND #at < :before',
        ExpressionAttributeNames: { '#shard': sweepIndex.shard, '#at': sweepIndex.at },
        ExpressionAttributeValues: { ':open': sweepIndex.open, ':before': before },
        Limit: limit,
      }),
    );
    return (out.Items ?? []).map((item) => ({
      taskId: String(item.taskId),
      sweepAt: Number(item[sweepIndex.at]),
      starts: Number(item[sweepIndex.starts] ?? 0),
    }));
  }

  async resweep(from: SweepEntry, to?: number): Promise<boolean> {
    return this.conditionalWrite(resweepUpdate(this.options.tasksTable, from, to));
  }

  async stopAwaitingPush(taskId: string, operation: string): Promise<boolean> {
    return this.conditionalWrite(pushStopUpdate(this.options.tasksTable, taskId, operation));
  }

  async finishRendition(
    taskId: string,
    slot: RenditionSlot,
    outcome: Pick<RenditionJob, 'status' | 'key' | 'completedAt' | 'error'>,
    refund?: CreditChange,
  ): Promise<boolean> {
    return this.conditionalWrite(
      renditionFinishUpdate(this.options.tasksTable, taskId, slot, outcome),
      refund && { change: refund, direction: 'refund' },
    );
  }

  /**
   * One conditional update of a task, alone or in a transaction with a credit change. False when the
   * task's condition failed (another writer got there first); InsufficientCreditsError when a charge did.
   */
  private async conditionalWrite(
    update: TaskUpdate,
    credit?: { change: CreditChange; direction: 'charge' | 'refund' },
  ): Promise<boolean> {
    try {
      if (!credit || credit.change.credits === 0) {
        await this.options.client.send(new UpdateCommand(update));
      } else {
        await this.options.client.send(
          new TransactWriteCommand({
            TransactItems: [
              { Update: update },
              creditUpdate(this.options.apiKeysTable, credit.change, credit.direction),
            ],
          }),
        );
      }
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      if (error instanceof TransactionCanceledException) {
        const [task, key] = error.CancellationReasons ?? [];
        if (task?.Code === 'ConditionalCheckFailed') return false;
        if (key?.Code === 'ConditionalCheckFailed' && credit?.direction === 'charge') {
          throw chargeRefusal(key.Item);
        }
      }
      throw error;
    }
  }

  async recordCallback(
    taskId: string,
    attempts: CallbackAttempt[],
    chain?: CallbackChainMove,
  ): Promise<boolean> {
    const { client, tasksTable } = this.options;
    const append = () => this.conditionalWrite(callbackUpdate(tasksTable, taskId, attempts, chain));
    if (!chain) return append();
    try {
      return await append();
    } catch (error) {
      // Tasks made before `callbackChains` was created with them lack the map that callbackChains.<key>
      // needs: create it (a no-op once it exists) and try again.
      if (chain.from || !(error instanceof Error) || error.name !== 'ValidationException') throw error;
      await client.send(new UpdateCommand(callbackChainsUpdate(tasksTable, taskId)));
      return append();
    }
  }
}
