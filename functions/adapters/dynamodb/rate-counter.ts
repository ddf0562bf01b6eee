import { randomUUID } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { nextGrant, type RateWindow, type SlotLog } from '../../core/rate-window';

/**
 * A rate window's counter in the counters table: one item per scope holding the sliding-window log that
 * core/rate-window.ts `nextGrant` decides on (the grant times still counted, reservations included): never
 * more than `limit` in any window, `limit` at once after idleness, limit/window in the long run. Writes are conditional on the revision last seen (optimistic
 * concurrency, see slot-transactions.ts); a conflict returns the current item, so every attempt is one
 * round trip. GCRA (one number per scope) cannot do this: with a burst of `limit`, it lets one more
 * through after window/limit, so up to 2·limit − 1 land in one window and the upstream answers 429.
 */

/**
 * What the counter item holds: the grant times (epoch ms) still inside the window, oldest first, and where
 * carried reservations went (SlotLog).
 */
export interface CounterState extends SlotLog {
  grants: number[];
  moves?: [number, number][];
  /** A fresh random token per write; undefined while no item exists. */
  revision: string | undefined;
}

export const emptyState: CounterState = { grants: [], revision: undefined };

/** The largest limit: about 9 bytes a grant, so 100 fit one 1 KB write unit, 1,000 take 9. */
const maxLimit = 1_000;
/** Items outlive their last grant's window by this much before TTL may remove them. */
const ttlSlackSeconds = 60;

/**
 * Whether `state` (undefined: no item seen) has a free slot at `now` (with `reserveUntil`, a free slot by
 * then; core/rate-window.ts nextGrant decides): the slot's time and the next state to write, or how long
 * until the earliest slot frees.
 */
export function decide(
  state: CounterState | undefined,
  now: number,
  rule: Pick<RateWindow, 'limit' | 'windowMs'>,
  options: { reserveUntil?: number; release?: number; at?: number; carry?: boolean } = {},
): { granted: true; at: number; next: CounterState } | { granted: false; retryAfterMs: number } {
  const decision = nextGrant(state ?? emptyState, now, rule, options);
  if (!decision.granted) return decision;
  const { grants, moves } = decision;
  // counterPut leaves out an empty `moves`.
  return { granted: true, at: decision.at, next: { grants, moves, revision: randomUUID() } };
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
    ...(Array.isArray(Item?.moves) && { moves: Item.moves as [number, number][] }),
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
      ...(next.moves !== undefined && next.moves.length > 0 && { moves: next.moves }),
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

export function checkLimit({ scope, limit, windowMs }: RateWindow): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) {
    throw new Error(`Rate window ${scope}: limit must be an integer from 1 to ${maxLimit}, got ${limit}`);
  }
  if (!Number.isFinite(windowMs) || windowMs <= 0) {
    throw new Error(`Rate window ${scope}: windowMs must be positive, got ${windowMs}`);
  }
}

export function stateFromRaw(item: Record<string, AttributeValue> | undefined): CounterState {
  const numbers = (list: AttributeValue[] | undefined) =>
    (list ?? []).flatMap((value) => (value.N === undefined ? [] : [Number(value.N)]));
  const moves = (item?.moves?.L ?? []).flatMap((pair): [number, number][] => {
    const [from, to] = numbers(pair.L);
    return from === undefined || to === undefined ? [] : [[from, to]];
  });
  return {
    grants: numbers(item?.grants?.L),
    ...(moves.length > 0 && { moves }),
    revision: item?.revision?.S,
  };
}

/** Counter ids are namespaced: the table also holds Idempotency-Key records. */
export const counterId = (scope: string) => `quota#${scope}`;
