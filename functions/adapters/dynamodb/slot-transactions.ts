import { type CancellationReason, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { RateLimitedError } from '../../core/errors';
import { freeSlotsOf, type SlotClaim, slotNow } from '../../core/rate-window';
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
import { apiKeyTable, counterTable, taskTable } from './tables';

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

  /** Where a slot granted at `at` is now (rate-window.ts slotNow), by the counter read consistently. */
  async slotTime(scope: string, at: number): Promise<number> {
    const state = await readCounter(this.client, this.countersTable(), scope);
    this.counters.set(scope, state);
    return slotNow(state, at);
  }

  /**
   * How long a transaction decided now should take to commit: as long as this instance's last one, a fifth
   * more for a group growing under load, if it ended lately (writeMemoryMs). The last one, not the slowest:
   * a burst's first writes wait behind its acceptance, and the slots after it would be granted too late.
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

type GrantedSlot = { scope: string; at: number };

/**
 * Each writer's slot, in order, on `counters` as the writers before it leave them (`states`: each counter's
 * next state after all of them). A writer none of whose windows has a slot is `refused` with how long until
 * one frees, but only from counters just read (`fresh`): otherwise the first such counter is `stale` and the
 * group is decided again once it is read.
 */
function decideGroup(
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
interface Writer {
  items: TransactItem[];
  windows: readonly SlotClaim[];
  on: SlotCancellationHandlers;
  reserveUntil: number | undefined;
  /** When write() was called: a slot asked `at` a moment ahead is that far ahead of the write itself. */
  calledAt: number;
  resolve: (slot: GrantedSlot | undefined) => void;
  reject: (error: unknown) => void;
}

/** How long a transaction's duration counts in the expected one (SlotTransactions expectedWriteMs). */
const writeMemoryMs = 3000;

/** How far apart the slots asked by one group's writers are at least (see writeGroup). */
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
