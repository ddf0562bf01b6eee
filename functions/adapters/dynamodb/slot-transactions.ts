import { type CancellationReason, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { RateLimitedError } from '../../core/errors';
import { freeSlotsOf, type RateWindow, type SlotClaim } from '../../core/rate-window';
import type { TransactItem } from './credits';
import {
  type CounterState,
  checkLimit,
  counterPut,
  decide,
  emptyState,
  readCounter,
  stateFromRaw,
} from './rate-counter';

/** Tries of a transaction that lost a race with another on the same items. */
const maxTransactionAttempts = 5;
/** Tries of a reservation that lost races on the counter to other writers. */
const maxReserveAttempts = 25;

/** What a cancelled transaction's reasons mean to its caller; each may throw its own error. */
export interface SlotCancellationHandlers {
  beforeSlot?: (reasons: CancellationReason[]) => void;
  afterSlot?: (reasons: CancellationReason[]) => void;
}

/**
 * DynamoDB transactions that may also take a slot of a rate window (a key's rate limit, the upstream's
 * quota; the counter is rate-counter.ts) in the same round trip: the one way any "N per window" rule is
 * enforced. One per store: it remembers each window's counter as last seen.
 */
export class SlotTransactions {
  /** Per rate-window scope, the counter's state last seen: a slot is written on it before anything is read. */
  private readonly counters = new Map<string, CounterState>();

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly countersTable: () => string,
    /** Epoch milliseconds; injectable for tests. */
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Slots of `window` free at `now` by the counter as this instance last saw it (never read): 0 when a
   * slot taken now would be refused (reservations ahead count too).
   */
  freeSlots(window: RateWindow): number {
    return freeSlotsOf(this.counters.get(window.scope)?.grants ?? [], this.now(), window);
  }

  /**
   * One transaction of `items` and, with `rate`, a slot of that window: the counter's next state is
   * decided on the state this instance last saw and written conditionally on it, so an uncontended call
   * is one round trip. A cancellation is handed to `beforeSlot`, then checked for a stale counter (decide again
   * on the state the failed condition returned), then handed to `afterSlot`; both may throw what it means.
   * Transaction conflicts (concurrent writers on the same items) are tried again a few times.
   * With `reserveUntil`, the earliest slot free by then of any of the windows (`rate` may be several) is
   * reserved when none is free now. Returns the window's scope and the slot's time.
   */
  async write(
    items: TransactItem[],
    rate: SlotClaim | readonly SlotClaim[] | undefined,
    on: SlotCancellationHandlers = {},
    reserveUntil?: number,
  ): Promise<{ scope: string; at: number } | undefined> {
    const windows: readonly SlotClaim[] = rate === undefined ? [] : Array.isArray(rate) ? rate : [rate];
    if (windows.length === 0) return this.writeOnce(items, windows, on, reserveUntil);
    // Writers of one instance take a window's counter in turn: racing each other on the one item would
    // cost a failed round trip per loser (a burst's reservations: dozens at once). Other instances still
    // race, through the conditional write.
    // A reservation among several windows waits only for the one it will most likely write (the
    // earliest by the counters as last seen), not for every writer of all of them.
    const now = this.now();
    const likely = windows
      .map((w) => ({ w, d: decide(this.counters.get(w.scope), now, w, { reserveUntil, at: w.at }) }))
      .sort((x, y) => (x.d.granted ? x.d.at : Infinity) - (y.d.granted ? y.d.at : Infinity))[0];
    return this.inTurn([likely?.w.scope ?? (windows[0] as SlotClaim).scope], () =>
      this.writeOnce(items, windows, on, reserveUntil),
    );
  }

  /** Per scope, the end of the last write queued on it in this instance. */
  private readonly turns = new Map<string, Promise<unknown>>();

  private async inTurn<T>(scopes: readonly string[], run: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(scopes)].sort();
    const before = sorted.map((scope) => this.turns.get(scope));
    const done = Promise.all(before).then(run);
    const settled = done.catch(() => undefined);
    for (const scope of sorted) this.turns.set(scope, settled);
    try {
      return await done;
    } finally {
      for (const scope of sorted) if (this.turns.get(scope) === settled) this.turns.delete(scope);
    }
  }

  private async writeOnce(
    items: TransactItem[],
    windows: readonly SlotClaim[],
    on: SlotCancellationHandlers,
    reserveUntil: number | undefined,
  ): Promise<{ scope: string; at: number } | undefined> {
    const { client } = this;
    for (const window of windows) checkLimit(window);
    const all = [...items];
    const rateIndex = items.length;
    // Each window's counter as this instance last saw it; a stale one costs one failed condition.
    const counters = new Map(windows.map((w) => [w.scope, this.counters.get(w.scope)]));
    const fresh = new Set<string>();
    let counterConflicts = 0;
    // A reservation is off any client's path: it keeps trying through a burst of waiting writers.
    const maxConflicts = reserveUntil === undefined ? maxTransactionAttempts : maxReserveAttempts;
    const contended = () => new RateLimitedError(50 + Math.round(Math.random() * 200), true);
    for (let attempt = 1; ; ) {
      let chosen: { window: SlotClaim; at: number; next: CounterState } | undefined;
      if (windows.length > 0) {
        const now = this.now();
        let refusedMs = Number.POSITIVE_INFINITY;
        let stale: SlotClaim | undefined;
        for (const window of windows) {
          const decision = decide(counters.get(window.scope), now, window, {
            reserveUntil,
            release: window.release,
            at: window.at,
          });
          if (!decision.granted) {
            // A refusal is only given from a state just read, so its retryAfter is exact.
            if (!fresh.has(window.scope)) stale ??= window;
            refusedMs = Math.min(refusedMs, decision.retryAfterMs);
            continue;
          }
          if (!chosen || decision.at < chosen.at) chosen = { window, at: decision.at, next: decision.next };
        }
        if (!chosen || (stale && chosen.at > now)) {
          if (stale) {
            counters.set(stale.scope, await readCounter(client, this.countersTable(), stale.scope));
            fresh.add(stale.scope);
            continue;
          }
          for (const window of windows)
            this.counters.set(window.scope, counters.get(window.scope) ?? emptyState);
          throw new RateLimitedError(refusedMs);
        }
        const { window, at, next } = chosen;
        all[rateIndex] = {
          Put: counterPut(
            this.countersTable(),
            window.scope,
            counters.get(window.scope)?.revision,
            next,
            Math.max(at, now) + window.windowMs,
          ),
        };
      }
      try {
        await client.send(new TransactWriteCommand({ TransactItems: all }));
        if (!chosen) return undefined;
        this.counters.set(chosen.window.scope, chosen.next);
        return { scope: chosen.window.scope, at: chosen.at };
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = error.CancellationReasons ?? [];
        on.beforeSlot?.(reasons);
        const slot = reasons[rateIndex];
        if (chosen && slot?.Code === 'ConditionalCheckFailed') {
          // Another writer took a slot meanwhile (or this instance had not seen the counter yet).
          const { scope } = chosen.window;
          const seen = counters.get(scope) !== undefined;
          counters.set(scope, stateFromRaw(slot.Item));
          fresh.add(scope);
          if (!seen) continue;
          if (++counterConflicts >= maxConflicts) {
            this.counters.set(scope, counters.get(scope) ?? emptyState);
            throw contended();
          }
          await new Promise((done) => setTimeout(done, Math.random() * 10 * Math.min(counterConflicts, 5)));
          continue;
        }
        on.afterSlot?.(reasons);
        // Concurrent writers on the same items collide; the loser tries again, and then meets the
        // winner's writes through the conditions above.
        if (!reasons.some((r) => r.Code === 'TransactionConflict')) throw error;
        if (attempt >= maxTransactionAttempts) throw windows.length > 0 ? contended() : error;
        await new Promise((done) => setTimeout(done, Math.random() * 20 * attempt));
        attempt++;
      }
    }
  }
}
