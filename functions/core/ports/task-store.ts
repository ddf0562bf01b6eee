import type { RateWindow, SlotClaim } from '../rate-window';
import type {
  CallbackAttempt,
  CallbackChain,
  RenditionJob,
  RenditionSlot,
  Task,
  TaskStatus,
} from '../task/task';
import type { ApiKey } from './api-key-store';

/** Credits moved together with a task write, in one transaction. */
export interface CreditChange {
  keyHash: string;
  credits: number;
}

/** What a transition writes beside the task (TaskStore.transition). */
export interface TransitionOptions {
  refund?: CreditChange;
  slot?: SlotClaim;
  sweepAt?: number;
}

export interface TaskStore {
  /**
   * Writes a new task and charges its credits atomically; throws InsufficientCreditsError when short, and
   * ApiKeyRefusedError when the key is revoked. With `idempotency`, the record is written in the same
   * transaction only if its key is unused (or expired); otherwise nothing is written and
   * IdempotencyConflictError carries the stored record. With `rate`, one slot of that window is taken in
   * the same transaction; RateLimitedError when none is free. One round trip when nothing contends.
   */
  createCharged(
    task: Task,
    charge: CreditChange,
    options?: { idempotency?: IdempotencyRecord; rate?: RateWindow },
  ): Promise<void>;
  /** The unexpired record stored for a key's Idempotency-Key, read consistently. */
  findIdempotency(
    keyHash: string,
    idempotencyKey: string,
    now: number,
  ): Promise<IdempotencyRecord | undefined>;
  get(taskId: string): Promise<Task | undefined>;
  /** The task and its owner's API key, both read consistently in one round trip. */
  getWithOwner(taskId: string, keyHash: string): Promise<{ task?: Task; owner?: ApiKey }>;
  /**
   * One page of a key's tasks created after `createdAfter` (epoch ms), newest first, starting after
   * `cursor`; `next` is absent on the last page.
   */
  listByKey(
    keyHash: string,
    limit: number,
    cursor?: TaskCursor,
    createdAfter?: number,
  ): Promise<{ tasks: Task[]; next?: TaskCursor }>;
  /**
   * Moves a task from `from` to `patch.status` (or updates it in place) only if it is still in `from`.
   * Returns false when another writer got there first. What `options` add goes into the same write: a
   * `refund`; one `slot` of that window (giving back its `release`), or nothing is written and
   * RateLimitedError says when the next slot frees; with a slot, what is returned is when the slot is
   * (`slotAt`): a slot asked `at` a moment ahead is that far ahead of when the write was made, so a write
   * that waited for its turn gets it later. With `sweepAt`, an open task's sweep time moves there
   * (dueForSweep).
   */
  transition(
    taskId: string,
    from: TaskStatus,
    patch: Partial<Omit<Task, 'taskId' | 'keyHash'>>,
    options?: TransitionOptions,
  ): Promise<boolean | { slotAt: number }>;
  /**
   * For a task still in `status` (default `queued`; `submitting`: a claimed slot moved before its submit
   * leaves): the earliest slot of any of `windows` free from its `at` (or now) but not after `until`,
   * reserved (written into that window's log, each window's `release` given back first). Which window and
   * when; undefined when the task has moved; RateLimitedError (when the earliest frees) if none.
   */
  reserveSlot(
    taskId: string,
    windows: readonly SlotClaim[],
    until: number,
    status?: TaskStatus,
  ): Promise<{ scope: string; at: number } | undefined>;
  /**
   * Where a reserved slot of the window `scope` (granted at `at`) is now, read from its log: `at`, or later
   * when a late slot before it carried it (SlotClaim `carry`). Its holder reads it shortly before the
   * submit (core/stages/generate.ts).
   */
  slotTime(scope: string, at: number): Promise<number>;
  /**
   * Slots of `window` free now (or at its `at`, its `release` given back) as this instance last saw its
   * counter (no I/O; a guess a transition corrects): the pool orders equally ranked upstreams by it, the
   * worker reserves rather than tries a take it would be refused. Absent: every window counts as free.
   */
  freeSlots?(window: SlotClaim): number;
  /**
   * How long until a claim of `window` would be granted, by the same counter as last seen (no I/O): 0 when
   * now. A worker that skips a take it would be refused waits this long at most where it may not reserve.
   * Absent: every window counts as free.
   */
  slotFreeInMs?(window: SlotClaim): number;
  /**
   * Appends callback attempts to the task. With `chain`, only while that callback's retry chain is still
   * at `chain.from` (absent: not started), moving it to `chain.to` in the same write; false when it is
   * not (another delivery of the same notify message got there first). Without `chain`, always appends.
   */
  recordCallback(taskId: string, attempts: CallbackAttempt[], chain?: CallbackChainMove): Promise<boolean>;
  /**
   * Adds a rendition job to a succeeded task if its slot is free (or its last attempt failed), charging
   * in the same transaction. Returns false when the slot is taken: each rendition is made at most once.
   * Throws InsufficientCreditsError when the key cannot pay, ApiKeyRefusedError when it is revoked. With
   * `rate`, one slot of that window is taken in the same transaction, or nothing is written and
   * RateLimitedError says when the next slot frees.
   */
  startRendition(
    taskId: string,
    slot: RenditionSlot,
    job: RenditionJob,
    charge?: CreditChange,
    rate?: RateWindow,
  ): Promise<boolean>;
  /**
   * Tasks with something open (the task unfinished, or a rendition processing) whose sweep time (the task's
   * deadline, or as a transition set it; then its renditions' earliest) is before `before`, earliest first,
   * at most `limit`. Read from a sparse index: the task's final move and createCharged keep it in the same
   * write; eventually consistent, so read each task before acting on it.
   */
  dueForSweep(before: number, limit: number): Promise<SweepEntry[]>;
  /**
   * Moves a task's sweep time from where `from` saw it to `to`, or takes the task off the index when `to`
   * is absent (nothing open left); false when the entry changed since (a rendition started meanwhile).
   */
  resweep(from: SweepEntry, to?: number): Promise<boolean>;
  /**
   * Takes off a submitted task the push it awaits for `operation` (whoever takes it off polls the task from
   * then on: the push's poll or the sweeper's push check, never both); false when it awaits none for it.
   */
  stopAwaitingPush(taskId: string, operation: string): Promise<boolean>;
  /** Ends a processing rendition (ready or failed), refunding in the same transaction; false if it was not processing. */
  finishRendition(
    taskId: string,
    slot: RenditionSlot,
    outcome: Pick<RenditionJob, 'status' | 'key' | 'completedAt' | 'error'>,
    refund?: CreditChange,
  ): Promise<boolean>;
}

/** A task on the sweep index and when the sweeper should look at it (epoch ms). */
export interface SweepEntry {
  taskId: string;
  sweepAt: number;
  /** Renditions started on the task so far: a start the sweeper did not see changes it. */
  starts: number;
}

/** What an Idempotency-Key on a submit stands for: the request it came with and the task it made. */
export interface IdempotencyRecord {
  keyHash: string;
  idempotencyKey: string;
  /** SHA-256 of the route and the canonical request body. */
  bodyHash: string;
  taskId: string;
  /** Epoch seconds; the key may be reused after this (DynamoDB TTL removes the record later). */
  expiresAt: number;
}

/** Where a page of TaskStore.listByKey ends: its last task, as the per-key index keys it. */
export interface TaskCursor {
  taskId: string;
  keyHash: string;
  createdAt: number;
}

/** A callback's retry chain (`Task.callbackChains[key]`) moving on by one attempt. */
export interface CallbackChainMove {
  key: string;
  from?: CallbackChain;
  to: CallbackChain;
}
