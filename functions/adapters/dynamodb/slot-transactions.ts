import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { RateLimitedError } from '../../core/errors';
import { freeSlotsOf, type SlotClaim, slotFreeInMsOf, slotNow } from '../../core/rate-window';
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
import {
  decideGroup,
  type GrantedSlot,
  type SlotCancellationHandlers,
  takeGroup,
  type Writer,
} from './write-groups';

/** Tries of a transaction that lost a race with another on the same items. */
const maxTransactionAttempts = 5;
/** Tries of a reservation that lost races on the counter to other writers. */
const maxReserveAttempts = 25;

/** How long a transaction's duration counts in the expected one (SlotTransactions expectedWriteMs). */
const writeMemoryMs = 3000;

/**
 * DynamoDB transactions that may also take a slot of a rate window (a key's rate limit, the upstream's
 * quota; the counter is rate-counter.ts) in the same round trip: the one way any "N per window" rule is
 * enforced. One per store: it remembers each window's counter as last seen.
 */
export class SlotTransactions {
  /** Per rate-window scope, the counter's state last seen: a slot is written on it before anything is read. */
  private readonly counters = new Map<string, CounterState>();
  /** This instance's last transaction: when it ended and how long it took from its decision. */
  private lastWrite: { endedAt: number; ms: number } | undefined;

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
  freeSlots(window: SlotClaim): number {
    return freeSlotsOf(this.counters.get(window.scope) ?? emptyState, this.now(), window);
  }

  /** How long until a claim of `window` would be granted, by the counter as this instance last saw it. */
  slotFreeInMs(window: SlotClaim): number {
    return slotFreeInMsOf(this.counters.get(window.scope) ?? emptyState, this.now(), window);
  }

  /** Where a slot granted at `at` is now (rate-window.ts slotNow), by the counter read consistently. */
  async slotTime(scope: string, at: number): Promise<number> {
    const state = await readCounter(this.client, this.countersTable(), scope);
    this.counters.set(scope, state);
    return slotNow(state, at);
  }

  /**
   * How long a transaction decided now should take to commit: as long as this instance's last one, a fifth
   * more for a group growing under load, if it ended lately (writeMemoryMs). The last one, not the slowest of
   * a few: once a burst's acceptance stops queuing the writes, slots go back to the lead asked at once (the
   * slowest of 3 s kept them 500 ms further ahead, and the first window wider).
   */
  private expectedWriteMs(now: number): number {
    const last = this.lastWrite;
    return last && now - last.endedAt <= writeMemoryMs ? Math.round(last.ms * 1.2) : 0;
  }

  private wrote(decidedAt: number): void {
    const endedAt = this.now();
    this.lastWrite = { endedAt, ms: endedAt - decidedAt };
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
  ): Promise<GrantedSlot | undefined> {
    const windows: readonly SlotClaim[] = rate === undefined ? [] : Array.isArray(rate) ? rate : [rate];
    for (const window of windows) checkLimit(window);
    return new Promise((resolve, reject) => {
      const writer: Writer = { items, windows, on, reserveUntil, calledAt: this.now(), resolve, reject };
      if (windows.length === 0) {
        this.writeGroup([writer]).catch(reject);
        return;
      }
      // Writers of one instance on a window's counter go together: one transaction holds what each of the
      // writers waiting meanwhile writes, and the counter's next state after all their slots. Racing each
      // other on the one item would cost a failed round trip per loser, and taking it one writer at a time
      // a round trip each (a burst's reservations: dozens at once). Other instances still race, through
      // the conditional write. A writer among several windows queues on the one it will most likely write
      // (the earliest by the counters as last seen).
      const now = this.now();
      const likely = windows
        .map((w) => ({ w, d: decide(this.counters.get(w.scope), now, w, { reserveUntil, at: w.at }) }))
        .sort((x, y) => (x.d.granted ? x.d.at : Infinity) - (y.d.granted ? y.d.at : Infinity))[0];
      const scope = likely?.w.scope ?? (windows[0] as SlotClaim).scope;
      const queue = this.queues.get(scope);
      if (queue) queue.push(writer);
      else void this.drain(scope, [writer]);
    });
  }

  /** Per scope, the writers waiting for the transaction in flight on its counter to end. */
  private readonly queues = new Map<string, Writer[]>();

  private async drain(scope: string, queue: Writer[]): Promise<void> {
    this.queues.set(scope, queue);
    while (queue.length > 0) {
      const group = takeGroup(queue);
      // writeGroup settles each writer itself; this only catches a bug's throw (settling twice is a no-op).
      await this.writeGroup(group).catch((error) => {
        for (const writer of group) writer.reject(error);
      });
    }
    this.queues.delete(scope);
  }

  /**
   * One transaction for `group`: each writer's items, and each counter it touches once, at the state after
   * every writer's slot (decided in order, each on top of those before it). A writer whose own items fail
   * leaves the group with what its handlers say; the rest write again. Settles every writer; never throws.
   */
  private async writeGroup(group: Writer[]): Promise<void> {
    const { client } = this;
    // Each counter as this instance last saw it; a stale one costs one failed condition.
    const counters = new Map<string, CounterState | undefined>();
    for (const writer of group)
      for (const window of writer.windows) counters.set(window.scope, this.counters.get(window.scope));
    const fresh = new Set<string>();
    const learn = (scope: string, state: CounterState) => {
      counters.set(scope, state);
      this.counters.set(scope, state);
      fresh.add(scope);
    };
    let active = [...group];
    const leave = (writer: Writer, outcome: { error: unknown } | { slot: GrantedSlot | undefined }) => {
      active = active.filter((w) => w !== writer);
      if ('error' in outcome) writer.reject(outcome.error);
      else writer.resolve(outcome.slot);
    };
    let counterConflicts = 0;
    const contended = () => new RateLimitedError(50 + Math.round(Math.random() * 200), true);
    for (let attempt = 1; active.length > 0; ) {
      const now = this.now();
      const { states, chosen, refused, stale } = decideGroup(
        active,
        counters,
        fresh,
        now,
        this.expectedWriteMs(now),
      );
      if (stale) {
        try {
          learn(stale.scope, await readCounter(client, this.countersTable(), stale.scope));
        } catch (error) {
          for (const writer of active) leave(writer, { error });
          return;
        }
        continue;
      }
      for (const [writer, retryAfterMs] of refused)
        leave(writer, { error: new RateLimitedError(retryAfterMs) });
      if (active.length === 0) return;

      // The transaction: every writer's items, then each counter written once.
      const all: TransactItem[] = [];
      const offsets = new Map<Writer, number>();
      for (const writer of active) {
        offsets.set(writer, all.length);
        all.push(...writer.items);
      }
      const counterAt = new Map<string, number>();
      for (const { window } of chosen.values()) {
        if (counterAt.has(window.scope)) continue;
        const next = states.get(window.scope) ?? emptyState;
        counterAt.set(window.scope, all.length);
        all.push({
          Put: counterPut(
            this.countersTable(),
            window.scope,
            counters.get(window.scope)?.revision,
            next,
            Math.max(now, next.grants.at(-1) ?? now) + window.windowMs,
          ),
        });
      }
      try {
        await client.send(new TransactWriteCommand({ TransactItems: all })).finally(() => this.wrote(now));
        for (const scope of counterAt.keys()) this.counters.set(scope, states.get(scope) ?? emptyState);
        for (const writer of active) {
          const slot = chosen.get(writer);
          leave(writer, { slot: slot && { scope: slot.window.scope, at: slot.at } });
        }
        return;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) {
          if (active.length === 1) {
            leave(active[0] as Writer, { error });
            return;
          }
          // Something in one writer's items (a validation error): each writes alone, so only its own fails.
          for (const writer of active) await this.writeGroup([writer]);
          return;
        }
        const reasons = error.CancellationReasons ?? [];
        // Counters another writer moved meanwhile (or this instance had not seen yet): decide again on them.
        let counterMoved = false;
        let counterSeen = false;
        for (const [scope, index] of counterAt) {
          const reason = reasons[index];
          if (reason?.Code !== 'ConditionalCheckFailed') continue;
          counterMoved = true;
          if (counters.get(scope) !== undefined) counterSeen = true;
          learn(scope, stateFromRaw(reason.Item));
        }
        let conflict = [...counterAt.values()].some((i) => reasons[i]?.Code === 'TransactionConflict');
        let itemFailed = false;
        for (const writer of active) {
          const from = offsets.get(writer) ?? 0;
          const own = reasons.slice(from, from + writer.items.length);
          if (own.every((r) => r.Code === undefined || r.Code === 'None')) continue;
          itemFailed = true;
          // Its reasons as if it had written alone: its items, then its counter's.
          const slot = chosen.get(writer);
          const mine = slot ? [...own, reasons[counterAt.get(slot.window.scope) ?? -1] ?? {}] : own;
          try {
            writer.on.beforeSlot?.(mine);
            writer.on.afterSlot?.(mine);
          } catch (meaning) {
            leave(writer, { error: meaning });
            continue;
          }
          // Concurrent writers on the same items collide; the loser tries again, and then meets the
          // winner's writes through the conditions above.
          if (own.some((r) => r.Code === 'TransactionConflict')) conflict = true;
          else leave(writer, { error });
        }
        if (counterMoved && !itemFailed) {
          if (counterSeen && ++counterConflicts >= maxTransactionAttempts) {
            // A request on a client's path stops here; a reservation keeps trying through a burst.
            const giveUp = counterConflicts >= maxReserveAttempts;
            for (const writer of active)
              if (giveUp || writer.reserveUntil === undefined) leave(writer, { error: contended() });
          }
          await new Promise((done) => setTimeout(done, Math.random() * 10 * Math.min(counterConflicts, 5)));
          continue;
        }
        if (itemFailed && !conflict) continue; // the writers whose items failed have left: the rest again
        if (!conflict) {
          for (const writer of active) leave(writer, { error });
          return;
        }
        if (attempt >= maxTransactionAttempts) {
          for (const writer of active)
            leave(writer, { error: writer.windows.length > 0 ? contended() : error });
          return;
        }
        await new Promise((done) => setTimeout(done, Math.random() * 20 * attempt));
        attempt++;
      }
    }
  }
}
