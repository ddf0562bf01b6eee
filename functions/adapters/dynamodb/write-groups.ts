import type { CancellationReason } from '@aws-sdk/client-dynamodb';
import type { SlotClaim } from '../../core/rate-window';
import type { TransactItem } from './credits';
import { type CounterState, decide } from './rate-counter';
import { apiKeyTable, counterTable, taskTable } from './tables';

/**
 * How one worker instance's writers waiting on the same counters are put together and decided
 * (slot-transactions.ts writes them): which go in one transaction, and each one's slot on top of those before it.
 * Pure: no call leaves the process.
 */

/** What a cancelled transaction's reasons mean to its caller; each may throw its own error. */
export interface SlotCancellationHandlers {
  beforeSlot?: (reasons: CancellationReason[]) => void;
  afterSlot?: (reasons: CancellationReason[]) => void;
}

export type GrantedSlot = { scope: string; at: number };

/**
 * Each writer's slot, in order, on `counters` as the writers before it leave them (`states`: each counter's
 * next state after all of them). A writer none of whose windows has a slot is `refused` with how long until
 * one frees, but only from counters just read (`fresh`): otherwise the first such counter is `stale` and the
 * group is decided again once it is read.
 */
export function decideGroup(
  writers: readonly Writer[],
  counters: ReadonlyMap<string, CounterState | undefined>,
  fresh: ReadonlySet<string>,
  now: number,
  writeMs: number,
) {
  const states = new Map(counters);
  const chosen = new Map<Writer, { window: SlotClaim; at: number }>();
  const refused = new Map<Writer, number>();
  let order = 0;
  for (const writer of writers) {
    if (writer.windows.length === 0) continue;
    // Writers of one group asking the same moment get it a few ms apart: submits sent all at once
    // reach the upstream spread by their own sending, past our margin, and a window later again.
    const spread = order++ * groupSpacingMs;
    let best: { window: SlotClaim; at: number; next: CounterState } | undefined;
    let refusedMs = Number.POSITIVE_INFINITY;
    let stale: SlotClaim | undefined;
    for (const window of writer.windows) {
      const decision = decide(states.get(window.scope), now, window, {
        reserveUntil: writer.reserveUntil,
        release: window.release,
        carry: window.carry,
        // As far ahead of this write as the caller asked (the time it waited for its turn added), and no
        // sooner than the write is expected to commit: a slot granted before it would be reached late.
        at:
          window.at === undefined
            ? undefined
            : Math.max(window.at + Math.max(0, now - writer.calledAt), now + writeMs) + spread,
      });
      if (!decision.granted) {
        if (!fresh.has(window.scope)) stale ??= window;
        refusedMs = Math.min(refusedMs, decision.retryAfterMs);
        continue;
      }
      if (!best || decision.at < best.at) best = { window, at: decision.at, next: decision.next };
    }
    // A refusal (or a slot later than now) is only given from a state just read, so its time is exact.
    if (stale && (!best || best.at > now)) return { states, chosen, refused, stale };
    if (!best) {
      refused.set(writer, refusedMs);
      continue;
    }
    states.set(best.window.scope, best.next);
    chosen.set(writer, { window: best.window, at: best.at });
  }
  return { states, chosen, refused, stale: undefined };
}

/** A write waiting for its turn on a counter, and how to answer it. */
export interface Writer {
  items: TransactItem[];
  windows: readonly SlotClaim[];
  on: SlotCancellationHandlers;
  reserveUntil: number | undefined;
  /** When write() was called: a slot asked `at` a moment ahead is that far ahead of the write itself. */
  calledAt: number;
  resolve: (slot: GrantedSlot | undefined) => void;
  reject: (error: unknown) => void;
}

/** How far apart the slots asked by one group's writers are at least (SlotTransactions writeGroup). */
const groupSpacingMs = 10;

/** DynamoDB's most actions in one transaction. */
const maxTransactionItems = 100;

/**
 * The writers at the head of `queue` that go in one transaction (taken off it): in order, as many as fit
 * DynamoDB's 100 actions with their counters, skipping (for the next one) a writer that touches an item
 * one already in the group does (a transaction may not hold two actions on one item).
 */
export function takeGroup(queue: Writer[]): Writer[] {
  const group: Writer[] = [];
  const keys = new Set<string>();
  const scopes = new Set<string>();
  let actions = 0;
  for (let i = 0; i < queue.length; ) {
    const writer = queue[i] as Writer;
    const own = writer.items.map(itemKey);
    const newScopes = writer.windows.filter((w) => !scopes.has(w.scope)).length;
    const overlaps = own.some((key) => keys.has(key)) || new Set(own).size < own.length;
    if (group.length > 0 && (overlaps || actions + own.length + newScopes > maxTransactionItems)) {
      i++;
      continue;
    }
    group.push(writer);
    queue.splice(i, 1);
    for (const key of own) keys.add(key);
    for (const window of writer.windows) scopes.add(window.scope);
    actions += own.length + newScopes;
  }
  return group;
}

/** The partition keys of this project's tables (tables.ts): a Put names its item's key among its attributes. */
const partitionKeys = [taskTable, apiKeyTable, counterTable].map((table) => table.partitionKey);

/** The table and key an action touches. */
function itemKey(item: TransactItem): string {
  if (item.Put) {
    const attribute = partitionKeys.find((name) => item.Put?.Item?.[name] !== undefined);
    return JSON.stringify([item.Put.TableName, attribute && item.Put.Item?.[attribute]]);
  }
  const action = item.Update ?? item.Delete ?? item.ConditionCheck;
  return JSON.stringify([action?.TableName, action?.Key]);
}
