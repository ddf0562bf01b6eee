import {
  ApiKeyRefusedError,
  IdempotencyConflictError,
  InsufficientCreditsError,
  RateLimitedError,
} from '../../functions/core/errors';
import type {
  ApiKey,
  CallbackChainMove,
  CreditChange,
  IdempotencyRecord,
  SweepEntry,
  TaskCursor,
  TaskStore,
  TransitionOptions,
} from '../../functions/core/ports';
import {
  freeSlotsOf,
  nextGrant,
  type RateWindow,
  type SlotClaim,
  type SlotLog,
  slotFreeInMsOf,
  slotNow,
} from '../../functions/core/rate-window';
import type {
  CallbackAttempt,
  RenditionJob,
  RenditionSlot,
  Task,
  TaskStatus,
} from '../../functions/core/task';
import { isFinal } from '../../functions/core/task/transitions';
import { InMemoryApiKeyStore } from './in-memory-adapters';

/** What DynamoDB would store: undefined values dropped (`removeUndefinedValues`), nothing shared. */
export const stored = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/**
 * TaskStore in memory, for unit tests, with DynamoTaskStore's semantics (the contract suite in
 * task-store-contract.ts runs against both): every write is checked whole before any part of it is
 * applied, as a DynamoDB transaction is, so a refused write leaves nothing behind.
 */
export class InMemoryTaskStore implements TaskStore {
  readonly tasks = new Map<string, Task>();
  readonly idempotency = new Map<string, IdempotencyRecord>();
  /** Per rate-window scope, its log (grant times and carried reservations), as the counters table keeps it. */
  readonly windows = new Map<string, SlotLog>();
  /** The sparse sweep index: open tasks and when the sweeper should look at them. */
  readonly sweepAt = new Map<string, number>();
  /** Renditions started per task (what DynamoTaskStore counts in `sweepStarts`). */
  private readonly starts = new Map<string, number>();

  constructor(
    /** The API keys table that charges and refunds move credits on. */
    readonly keys: InMemoryApiKeyStore = new InMemoryApiKeyStore(),
    /** Epoch ms for rate windows; DynamoTaskStore uses the real clock. */
    private readonly now: () => number = Date.now,
  ) {}

  async createCharged(
    task: Task,
    charge: CreditChange,
    { idempotency, rate }: { idempotency?: IdempotencyRecord; rate?: RateWindow } = {},
  ): Promise<void> {
    const takeSlot = this.slot(rate);
    if (this.tasks.has(task.taskId)) throw new Error(`task ${task.taskId} exists already`);
    const idemId = idempotency && idempotencyId(idempotency.keyHash, idempotency.idempotencyKey);
    const existing = idemId === undefined ? undefined : this.idempotency.get(idemId);
    // An expired record may linger until TTL removes it: it no longer holds the key.
    if (existing && existing.expiresAt >= Math.floor(task.createdAt / 1000)) {
      throw new IdempotencyConflictError({ bodyHash: existing.bodyHash, taskId: existing.taskId });
    }
    const key = this.chargeable(charge);
    takeSlot?.();
    key.credits -= charge.credits;
    this.tasks.set(task.taskId, stored(task));
    if (!isFinal(task.status)) this.sweepAt.set(task.taskId, task.deadlineAt);
    if (idemId && idempotency) this.idempotency.set(idemId, stored(idempotency));
  }

  async findIdempotency(
    keyHash: string,
    idempotencyKey: string,
    now: number,
  ): Promise<IdempotencyRecord | undefined> {
    const record = this.idempotency.get(idempotencyId(keyHash, idempotencyKey));
    if (!record || record.expiresAt < Math.floor(now / 1000)) return undefined;
    return stored(record);
  }

  async get(taskId: string): Promise<Task | undefined> {
    const task = this.tasks.get(taskId);
    return task && stored(task);
  }

  async getWithOwner(taskId: string, keyHash: string): Promise<{ task?: Task; owner?: ApiKey }> {
    return { task: await this.get(taskId), owner: await this.keys.get(keyHash) };
  }

  async listByKey(
    keyHash: string,
    limit: number,
    cursor?: TaskCursor,
    createdAfter = 0,
  ): Promise<{ tasks: Task[]; next?: TaskCursor }> {
    // The byKey index: newest first; ties in createdAt in a fixed order of their own.
    const mine = [...this.tasks.values()]
      .filter((t) => t.keyHash === keyHash && t.createdAt > createdAfter)
      .sort((a, b) => b.createdAt - a.createdAt || (a.taskId < b.taskId ? 1 : -1));
    const start = cursor
      ? mine.findIndex(
          (t) =>
            t.createdAt < cursor.createdAt || (t.createdAt === cursor.createdAt && t.taskId < cursor.taskId),
        )
      : 0;
    const page = start < 0 ? [] : mine.slice(start, start + limit);
    const last = page.at(-1);
    // Like a DynamoDB Query, a page that reached `limit` says where it ended, even when nothing follows.
    return {
      tasks: page.map(stored),
      next:
        last && page.length === limit
          ? { taskId: last.taskId, keyHash: last.keyHash, createdAt: last.createdAt }
          : undefined,
    };
  }

  freeSlots(window: SlotClaim): number {
    return freeSlotsOf(this.windows.get(window.scope) ?? { grants: [] }, this.now(), window);
  }

  slotFreeInMs(window: SlotClaim): number {
    return slotFreeInMsOf(this.windows.get(window.scope) ?? { grants: [] }, this.now(), window);
  }

  async slotTime(scope: string, at: number): Promise<number> {
    return slotNow(this.windows.get(scope) ?? { grants: [] }, at);
  }

  async transition(
    taskId: string,
    from: TaskStatus,
    patch: Partial<Omit<Task, 'taskId' | 'keyHash'>>,
    { refund, slot, sweepAt }: TransitionOptions = {},
  ): Promise<boolean | { slotAt: number }> {
    // The window is decided on before the task is looked at, as DynamoTaskStore does.
    const takeSlot = this.slot(slot);
    const task = this.tasks.get(taskId);
    if (task?.status !== from) return false;
    const key = refund && refund.credits !== 0 ? this.refundable(refund) : undefined;
    const slotAt = takeSlot?.();
    if (key && refund) key.credits += refund.credits;
    // Undefined fields of the patch leave the task's as they are (DynamoTaskStore writes only the others).
    this.tasks.set(taskId, stored({ ...task, ...definedOnly(patch) }));
    if (patch.status !== undefined && isFinal(patch.status)) this.sweepAt.delete(taskId);
    else if (sweepAt !== undefined) this.sweepAt.set(taskId, sweepAt);
    return slotAt === undefined ? true : { slotAt };
  }

  async reserveSlot(
    taskId: string,
    windows: readonly SlotClaim[],
    until: number,
    status: TaskStatus = 'queued',
  ): Promise<{ scope: string; at: number } | undefined> {
    const now = this.now();
    let best: { scope: string; at: number; grants: number[]; moves: [number, number][] } | undefined;
    let refusedMs = Number.POSITIVE_INFINITY;
    for (const window of windows) {
      const decision = nextGrant(this.windows.get(window.scope) ?? { grants: [] }, now, window, {
        reserveUntil: until,
        release: window.release,
        at: window.at,
        carry: window.carry,
      });
      if (!decision.granted) refusedMs = Math.min(refusedMs, decision.retryAfterMs);
      else if (!best || decision.at < best.at) best = { scope: window.scope, ...decision };
    }
    if (!best) throw new RateLimitedError(refusedMs);
    if (this.tasks.get(taskId)?.status !== status) return undefined;
    this.windows.set(best.scope, { grants: best.grants, moves: best.moves });
    return { scope: best.scope, at: best.at };
  }

  async recordCallback(
    taskId: string,
    attempts: CallbackAttempt[],
    chain?: CallbackChainMove,
  ): Promise<boolean> {
    const task = this.tasks.get(taskId);
    if (!task) return false;
    const chains = task.callbackChains ?? {};
    if (chain) {
      const current = chains[chain.key];
      const matches = chain.from
        ? current?.attempts === chain.from.attempts && current.next === (chain.from.next ?? '')
        : current === undefined;
      if (!matches) return false;
    }
    this.tasks.set(
      taskId,
      stored({
        ...task,
        callbacks: [...(task.callbacks ?? []), ...attempts],
        ...(chain && { callbackChains: { ...chains, [chain.key]: chain.to } }),
      }),
    );
    return true;
  }

  async startRendition(
    taskId: string,
    slot: RenditionSlot,
    job: RenditionJob,
    charge?: CreditChange,
    rate?: RateWindow,
  ): Promise<boolean> {
    const task = this.tasks.get(taskId);
    const current = task?.renditions?.[slot];
    // Only a finished task, and only once per slot (again after a failure): checked before the slot, as
    // DynamoTaskStore's transaction reports the task's condition first.
    if (task?.status !== 'succeeded' || (current !== undefined && current.status !== 'failed')) {
      return false;
    }
    const takeSlot = this.slot(rate);
    const key = charge && charge.credits !== 0 ? this.chargeable(charge) : undefined;
    takeSlot?.();
    if (key && charge) key.credits -= charge.credits;
    this.tasks.set(taskId, stored({ ...task, renditions: { ...task.renditions, [slot]: job } }));
    // An earlier job's deadline holds the entry already (a later start has a later deadline).
    if (!this.sweepAt.has(taskId)) this.sweepAt.set(taskId, job.deadlineAt ?? job.requestedAt);
    this.starts.set(taskId, (this.starts.get(taskId) ?? 0) + 1);
    return true;
  }

  async dueForSweep(before: number, limit: number): Promise<SweepEntry[]> {
    return [...this.sweepAt]
      .filter(([, at]) => at < before)
      .sort(([, a], [, b]) => a - b)
      .slice(0, limit)
      .map(([taskId, sweepAt]) => ({ taskId, sweepAt, starts: this.starts.get(taskId) ?? 0 }));
  }

  async resweep(from: SweepEntry, to?: number): Promise<boolean> {
    const { taskId } = from;
    if (this.sweepAt.get(taskId) !== from.sweepAt || (this.starts.get(taskId) ?? 0) !== from.starts)
      return false;
    if (to === undefined) this.sweepAt.delete(taskId);
    else this.sweepAt.set(taskId, to);
    return true;
  }

  async stopAwaitingPush(taskId: string, operation: string): Promise<boolean> {
    const task = this.tasks.get(taskId);
    if (task?.status !== 'submitted' || task.awaitedPush?.operation !== operation) return false;
    const { awaitedPush: _, ...rest } = task;
    this.tasks.set(taskId, stored(rest));
    return true;
  }

  async finishRendition(
    taskId: string,
    slot: RenditionSlot,
    outcome: Pick<RenditionJob, 'status' | 'key' | 'completedAt' | 'error'>,
    refund?: CreditChange,
  ): Promise<boolean> {
    const task = this.tasks.get(taskId);
    const job = task?.renditions?.[slot];
    if (!task || job?.status !== 'processing') return false;
    const key = refund && refund.credits !== 0 ? this.refundable(refund) : undefined;
    if (key && refund) key.credits += refund.credits;
    this.tasks.set(
      taskId,
      stored({ ...task, renditions: { ...task.renditions, [slot]: { ...job, ...definedOnly(outcome) } } }),
    );
    return true;
  }

  /** The key a charge may be taken from, or the error DynamoTaskStore throws for it. */
  private chargeable(charge: CreditChange): ApiKey {
    const key = this.keys.keys.get(charge.keyHash);
    if (!key || key.revoked === true) throw new ApiKeyRefusedError();
    if (key.credits < charge.credits) throw new InsufficientCreditsError(key.credits);
    return key;
  }

  private refundable(refund: CreditChange): ApiKey {
    const key = this.keys.keys.get(refund.keyHash);
    // DynamoDB cancels the whole transaction when the key is gone.
    if (!key) throw new Error(`refund to an unknown key ${refund.keyHash}`);
    return key;
  }

  /**
   * Checks that the window has a free slot now (RateLimitedError, saying when the next frees, if not)
   * and returns what takes it, to run once the rest of the write is known to succeed.
   */
  private slot(window: SlotClaim | undefined): (() => number) | undefined {
    if (!window) return undefined;
    const decision = nextGrant(this.windows.get(window.scope) ?? { grants: [] }, this.now(), window, {
      release: window.release,
      at: window.at,
      carry: window.carry,
    });
    if (!decision.granted) throw new RateLimitedError(decision.retryAfterMs);
    return () => {
      this.windows.set(window.scope, { grants: decision.grants, moves: decision.moves });
      return decision.at;
    };
  }
}

const definedOnly = <T extends object>(patch: T): Partial<T> =>
  Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;

const idempotencyId = (keyHash: string, idempotencyKey: string) => `${keyHash}#${idempotencyKey}`;
