import { randomUUID } from 'node:crypto';
import { type AttributeValue, ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { QuotaGate } from '../../core/ports';

/** At most `limit` acquisitions in any `windowMs` (a sliding window, as upstreams count). */
export interface QuotaLimit {
  limit: number;
  windowMs: number;
}

export interface DynamoQuotaGateOptions {
  client: DynamoDBDocumentClient;
  /** The counters table (layout `counterTable`). */
  table: string;
  /** Per scope; a scope without a limit is always granted, without a DynamoDB call. */
  limits: Record<string, QuotaLimit>;
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
}

/** What the counter item holds: the grant times (epoch ms) still inside the window, oldest first. */
export interface CounterState {
  grants: number[];
  /** A fresh random token per write; undefined while no item exists. */
  revision: string | undefined;
}

export const emptyState: CounterState = { grants: [], revision: undefined };

type Decision = { granted: true } | { granted: false; retryAfterMs: number; contended?: boolean };

/** Lost races before giving up for now; each one means another instance took a slot meanwhile. */
const maxAttempts = 6;
/** The longest log kept in one item: about 9 bytes a grant, so 100 fit one 1 KB write unit, 1,000 take 9. */
const maxLimit = 1_000;
/** Items outlive their last grant's window by this much before TTL may remove them. */
const ttlSlackSeconds = 60;
/** What a caller is told to wait when contention outlasted every attempt. */
const contendedRetryMs = { min: 50, max: 250 };

/**
 * A rate shared by every worker instance, kept in the counters table: one item per scope holding the
 * times of the grants inside the last window (a sliding-window log). A grant is allowed while fewer than
 * `limit` of them fall inside (now − window, now], so `limit` pass at once after idleness, never more
 * than `limit` in any window, and the long-run rate is limit/window. Writes are conditional on the
 * revision last seen (optimistic concurrency); a conflict returns the current item, so every attempt is
 * one round trip. GCRA (one number per scope) cannot do this: with a burst of `limit`, it lets one
 * more through after window/limit, so up to 2·limit − 1 land in one window and the upstream answers 429.
 */
export class DynamoQuotaGate implements QuotaGate {
  /** Counts since construction, for logs and metrics: conflicts are lost optimistic races. */
  readonly stats = { grants: 0, refusals: 0, conflicts: 0, contended: 0 };

  private readonly now: () => number;
  /** The last state seen per scope: a write is tried on it before anything is read. */
  private readonly lastSeen = new Map<string, CounterState>();

  constructor(private readonly options: DynamoQuotaGateOptions) {
    this.now = options.now ?? Date.now;
    for (const [scope, rule] of Object.entries(options.limits)) checkLimit(scope, rule);
  }

  async tryAcquire(scope: string, override?: QuotaLimit): Promise<Decision> {
    if (override) checkLimit(scope, override);
    const rule = override ?? this.options.limits[scope];
    if (rule === undefined) return { granted: true };

    // Undefined until this instance has seen the item: the first write then assumes there is none.
    let state = this.lastSeen.get(scope);
    // A refusal is only reported from a state just read, so its retryAfter is exact.
    let current = false;
    let conflicts = 0;
    for (;;) {
      const now = this.now();
      const decision = decide(state, now, rule);
      if (!decision.granted) {
        if (!current) {
          state = await this.read(scope);
          current = true;
          continue;
        }
        this.lastSeen.set(scope, state ?? emptyState);
        this.stats.refusals++;
        return decision;
      }
      const { next } = decision;
      const found = await this.write(scope, state?.revision, next, now + rule.windowMs);
      if (found === undefined) {
        this.lastSeen.set(scope, next);
        this.stats.grants++;
        return { granted: true };
      }
      // Finding an item this instance had not seen yet is not a lost race.
      if (state !== undefined) {
        this.stats.conflicts++;
        if (++conflicts >= maxAttempts) {
          this.lastSeen.set(scope, found);
          this.stats.contended++;
          const { min, max } = contendedRetryMs;
          return {
            granted: false,
            retryAfterMs: Math.round(min + Math.random() * (max - min)),
            contended: true,
          };
        }
        // Instances that lost the same race spread out before trying again.
        await sleep(Math.random() * 10 * conflicts);
      }
      state = found;
      current = true;
    }
  }

  private read(scope: string): Promise<CounterState> {
    return readCounter(this.options.client, this.options.table, scope);
  }

  /** Writes `next` if the item is still at `expected`; otherwise returns what it holds now. */
  private async write(
    scope: string,
    expected: string | undefined,
    next: CounterState,
    lastWindowEndMs: number,
  ): Promise<CounterState | undefined> {
    try {
      await this.options.client.send(
        new PutCommand(counterPut(this.options.table, scope, expected, next, lastWindowEndMs)),
      );
      return undefined;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // The document client does not unmarshall the item carried by the error.
      return stateFromRaw(error.Item);
    }
  }
}

/**
 * Whether `state` (undefined: no item seen) has a free slot at `now`: the next state to write, or how long
 * until the next slot frees (when the grant `limit` places from the newest leaves the window).
 */
export function decide(
  state: CounterState | undefined,
  now: number,
  rule: QuotaLimit,
): { granted: true; next: CounterState } | { granted: false; retryAfterMs: number } {
  const inWindow = (state?.grants ?? []).filter((t) => t > now - rule.windowMs);
  if (inWindow.length >= rule.limit) {
    const freeing = inWindow[inWindow.length - rule.limit] ?? now;
    return { granted: false, retryAfterMs: Math.max(1, Math.ceil(freeing + rule.windowMs - now)) };
  }
  return {
    granted: true,
    next: { grants: [...inWindow, now].sort((a, b) => a - b).slice(-rule.limit), revision: randomUUID() },
  };
}

/** A counter's current state, read consistently. */
export async function readCounter(
  client: DynamoDBDocumentClient,
  table: string,
  scope: string,
): Promise<CounterState> {
  const { Item } = await client.send(
    new GetCommand({ TableName: table, Key: { counterId: counterId(scope) }, ConsistentRead: true }),
  );
  return {
    grants: Array.isArray(Item?.grants) ? (Item.grants as number[]) : [],
    revision: typeof Item?.revision === 'string' ? Item.revision : undefined,
  };
}

/** The conditional write of a counter's next state: only if it is still at `expected` (none: no item). */
export function counterPut(
  table: string,
  scope: string,
  expected: string | undefined,
  next: CounterState,
  lastWindowEndMs: number,
) {
  return {
    TableName: table,
    Item: {
      counterId: counterId(scope),
      grants: next.grants,
      revision: next.revision,
      expiresAt: Math.ceil(lastWindowEndMs / 1000) + ttlSlackSeconds,
    },
    ...(expected === undefined
      ? { ConditionExpression: 'attribute_not_exists(counterId)' }
      : {
          ConditionExpression: 'revision = :expected',
          ExpressionAttributeValues: { ':expected': expected },
        }),
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
}

export function checkLimit(scope: string, { limit, windowMs }: QuotaLimit): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) {
    throw new Error(`Quota ${scope}: limit must be an integer from 1 to ${maxLimit}, got ${limit}`);
  }
  if (!Number.isFinite(windowMs) || windowMs <= 0) {
    throw new Error(`Quota ${scope}: windowMs must be positive, got ${windowMs}`);
  }
}

/** Counter ids are namespaced: the table also holds other counters (per-key rate limits). */
export const counterId = (scope: string) => `quota#${scope}`;

export function stateFromRaw(item: Record<string, AttributeValue> | undefined): CounterState {
  return {
    grants: (item?.grants?.L ?? []).flatMap((value) => (value.N === undefined ? [] : [Number(value.N)])),
    revision: item?.revision?.S,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
