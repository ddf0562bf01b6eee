/**
 * The DynamoDB tables' key layout, in one place: the CDK storage construct and the local
 * runtime both build their tables from these descriptions, so the two can never drift apart.
 */
export interface TableLayout {
  partitionKey: string;
  sortKey?: string;
  /** Attribute holding the expiry time in epoch seconds (DynamoDB TTL). */
  ttlAttribute?: string;
  indexes: { name: string; partitionKey: string; sortKey: string }[];
}

/**
 * Tasks by taskId; `byKey` lists one API key's tasks newest first. `bySweepAt` is sparse: only a task with
 * something unfinished (the task itself, or a rendition) carries `sweepShard` and `sweepAt` (when the sweeper
 * should look at it), so the sweeper queries the few open tasks past their deadline instead of scanning.
 */
export const taskTable: TableLayout = {
  partitionKey: 'taskId',
  ttlAttribute: 'expiresAt',
  indexes: [
    { name: 'byKey', partitionKey: 'keyHash', sortKey: 'createdAt' },
    { name: 'bySweepAt', partitionKey: 'sweepShard', sortKey: 'sweepAt' },
  ],
};

/** The index attributes of an open task (see taskTable): kept off `Task`, they are the store's bookkeeping. */
export const sweepIndex = {
  name: 'bySweepAt',
  shard: 'sweepShard',
  at: 'sweepAt',
  starts: 'sweepStarts',
  open: 'open',
} as const;

/** API keys by the SHA-256 hash of the key (the key itself is never stored). */
export const apiKeyTable: TableLayout = {
  partitionKey: 'keyHash',
  indexes: [],
};

/**
 * Rate-window counters shared by every function instance, one item per window (`quota#kie` for the
 * upstream's submit quota, `quota#rate#<keyHash>` for a key's rate limit; see rate-counter.ts), and the
 * Idempotency-Key records (`idem#...`). Both are worthless once their time has passed, so TTL removes them.
 */
export const counterTable: TableLayout = {
  partitionKey: 'counterId',
  ttlAttribute: 'expiresAt',
  indexes: [],
};

/** Attribute types: every key attribute is a string except these numeric sort keys. */
export const numericAttributes = new Set(['createdAt', 'sweepAt']);
