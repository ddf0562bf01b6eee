import { type CancellationReason, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { RateLimitedError } from '../../core/errors';
import type { RateWindow } from '../../core/rate-window';
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

  /** Slots of `window` free at `now` by the counter as this instance last saw it (never read). */
  freeSlots(window: RateWindow): number {
    const now = this.now();
    const grants = this.counters.get(window.scope)?.grants ?? [];
    return Math.max(0, window.limit - grants.filter((t) => t > now - window.windowMs).length);
  }

  /**
   * One transaction of `items` and, with `rate`, a slot of that window: the counter's next state is
   * decided on the state this instance last saw and written conditionally on it, so an uncontended call
   * is one round trip. A cancellation is handed to `beforeSlot`, then checked for a stale counter (decide again
   * on the state the failed condition returned), then handed to `afterSlot`; both may throw what it means.
   * Transaction conflicts (concurrent writers on the same items) are tried again a few times.
   */
  async write(
    items: TransactItem[],
    rate: RateWindow | undefined,
    on: SlotCancellationHandlers = {},
  ): Promise<void> {
    const { client } = this;
    if (rate) checkLimit(rate);
    const all = [...items];
    const rateIndex = items.length;
    // The window's counter as this instance last saw it; a stale one costs one failed condition.
    let counter = rate && this.counters.get(rate.scope);
    let counterFresh = false;
    let counterConflicts = 0;
    const contended = () => new RateLimitedError(50 + Math.round(Math.random() * 200), true);
    for (let attempt = 1; ; ) {
      let next: CounterState | undefined;
      if (rate) {
        const now = this.now();
        const decision = decide(counter, now, rate);
        if (!decision.granted) {
          // A refusal is only given from a state just read, so its retryAfter is exact.
          if (!counterFresh) {
            counter = await readCounter(client, this.countersTable(), rate.scope);
            counterFresh = true;
            continue;
          }
          this.counters.set(rate.scope, counter ?? emptyState);
          throw new RateLimitedError(decision.retryAfterMs);
        }
        next = decision.next;
        all[rateIndex] = {
          Put: counterPut(this.countersTable(), rate.scope, counter?.revision, next, now + rate.windowMs),
        };
      }
      try {
        await client.send(new TransactWriteCommand({ TransactItems: all }));
        if (rate && next) this.counters.set(rate.scope, next);
        return;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = error.CancellationReasons ?? [];
        on.beforeSlot?.(reasons);
        const window = reasons[rateIndex];
        if (rate && window?.Code === 'ConditionalCheckFailed') {
          // Another writer took a slot meanwhile (or this instance had not seen the counter yet).
          const seen = counter !== undefined;
          counter = stateFromRaw(window.Item);
          counterFresh = true;
          if (!seen) continue;
          if (++counterConflicts >= maxTransactionAttempts) {
            this.counters.set(rate.scope, counter);
            throw contended();
          }
          await new Promise((done) => setTimeout(done, Math.random() * 10 * counterConflicts));
          continue;
        }
        on.afterSlot?.(reasons);
        // Concurrent writers on the same items collide; the loser tries again, and then meets the
        // winner's writes through the conditions above.
        if (!reasons.some((r) => r.Code === 'TransactionConflict')) throw error;
        if (attempt >= maxTransactionAttempts) throw rate ? contended() : error;
        await new Promise((done) => setTimeout(done, Math.random() * 20 * attempt));
        attempt++;
      }
    }
  }
}
