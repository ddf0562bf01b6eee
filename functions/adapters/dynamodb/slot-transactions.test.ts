import { randomUUID } from 'node:crypto';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { useDynamoDbLocal } from '../../../test/support/dynamodb-local';
import { RateLimitedError } from '../../core/errors';
import type { RateWindow } from '../../core/rate-window';
import { generateRequestSchema } from '../../core/schema';
import { newTask, type RenditionJob } from '../../core/task/task';
import { SlotTransactions } from './slot-transactions';
import { DynamoTaskStore } from './task-store';

// Real DynamoDB Local: the rate windows' guarantee rests on conditional transactions, which a fake would not test.
const dynamo = useDynamoDbLocal();

/** A scope of its own per test, so tests share the table but no counter. */
const freshScope = () => `test-${randomUUID()}`;

type Decision = { granted: true } | { granted: false; retryAfterMs: number; contended?: boolean };

/** One instance's transactions, with its own client and clock. */
function instance(now: () => number): SlotTransactions {
  return new SlotTransactions(dynamo.client(), () => dynamo.tables.counters, now);
}

/** Takes one slot of `window` with nothing else in the transaction: the window alone, as a gate. */
async function take(transactions: SlotTransactions, window: RateWindow): Promise<Decision> {
  try {
    await transactions.write([], window);
    return { granted: true };
  } catch (error) {
    if (!(error instanceof RateLimitedError)) throw error;
    return error.contended
      ? { granted: false, retryAfterMs: error.retryAfterMs, contended: true }
      : { granted: false, retryAfterMs: error.retryAfterMs };
  }
}

/** The largest number of `times` (sorted) inside any window of `windowMs`, ends included on one side. */
function busiestWindow(times: number[], windowMs: number): number {
  let most = 0;
  let first = 0;
  for (let last = 0; last < times.length; last++) {
    while ((times[last] as number) - (times[first] as number) >= windowMs) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

describe('SlotTransactions: a rate window', () => {
  it('grants exactly `limit` at once after idleness, then refuses until the first grant leaves the window', async () => {
    const scope = freshScope();
    // Injected clocks start at the real time: DynamoDB Local, like DynamoDB, deletes items whose TTL
    // has passed, so counters written by a clock in the past would vanish mid-test.
    let now = Date.now();
    const window = { scope, limit: 5, windowMs: 10_000 };
    const gate = instance(() => now);

    const burst = [];
    for (let i = 0; i < 6; i++) burst.push(await take(gate, window));
    expect(burst.slice(0, 5)).toEqual(Array(5).fill({ granted: true }));
    // A sliding window: the sixth fits only once the first grant is a whole window old.
    expect(burst[5]).toEqual({ granted: false, retryAfterMs: 10_000 });

    now += 9_999;
    expect(await take(gate, window)).toEqual({ granted: false, retryAfterMs: 1 });
    // The whole burst leaves the window together, so a whole burst fits again.
    now += 1;
    for (let i = 0; i < 5; i++) expect(await take(gate, window)).toEqual({ granted: true });
    expect(await take(gate, window)).toEqual({ granted: false, retryAfterMs: 10_000 });

    const { Item } = await dynamo.client().send(
      new GetCommand({
        TableName: dynamo.tables.counters,
        Key: { counterId: `quota#${scope}` },
        ConsistentRead: true,
      }),
    );
    // The burst before is still kept (a window and a jitter old), for judging an upstream's 429.
    expect(Item?.grants).toHaveLength(10);
    // TTL a little past the end of the newest grant's window.
    expect(Item?.expiresAt).toBe(Math.ceil((now + 10_000) / 1000) + 60);
  });

  it('shares one window between instances: what one takes, another cannot', async () => {
    const scope = freshScope();
    const now = Date.now();
    const window = { scope, limit: 5, windowMs: 60_000 };
    const a = instance(() => now);
    const b = instance(() => now + 1_000);

    for (let i = 0; i < 3; i++) expect(await take(a, window)).toEqual({ granted: true });
    for (let i = 0; i < 2; i++) expect(await take(b, window)).toEqual({ granted: true });
    // `a` still believes 3 are taken: its write loses, and it answers from what the table holds.
    expect(a.slotFreeInMs(window)).toBe(0);
    expect(await take(a, window)).toEqual({ granted: false, retryAfterMs: 60_000 });
    expect(await take(b, window)).toEqual({ granted: false, retryAfterMs: 59_000 });
    // Each now knows, without a read, how long until a slot frees.
    expect(a.slotFreeInMs(window)).toBe(60_000);
    expect(b.slotFreeInMs(window)).toBe(59_000);
  });

  it('keeps where carried reservations went through another instance’s write on a counter it saw stale', async () => {
    const scope = freshScope();
    const start = Date.now();
    const window = { scope, limit: 1, windowMs: 20_000 };
    const a = instance(() => start);
    const b = instance(() => start + 100);
    // b sees the counter once, empty; a then takes a slot and reserves the next, a window after it.
    expect(b.freeSlots(window)).toBe(1);
    const taken = await a.write([], { ...window, at: start + 150 });
    const reserved = await a.write([], window, {}, start + 60_000);
    if (!taken || !reserved) throw new Error('not granted');
    // The slot reached late moves 400 ms ahead, carrying the reservation.
    await a.write([], { ...window, at: taken.at + 400, release: taken.at, carry: true }, {}, start + 2_000);
    expect(await a.slotTime(scope, reserved.at)).toBe(reserved.at + 400);
    // b's reservation is decided on the counter its failed condition returned: the carry stays in the log.
    expect((await b.write([], window, {}, start + 60_000))?.at).toBe(reserved.at + 400 + 20_000);
    expect(await b.slotTime(scope, reserved.at)).toBe(reserved.at + 400);
  });

  it('holds the long-run rate to limit/window under a steady overload (injected clock)', async () => {
    const window = { scope: freshScope(), limit: 5, windowMs: 1_000 };
    const start = Date.now();
    let now = start;
    const gate = instance(() => now);

    // Offered: one request every 50 ms, four times the rate, for 10 simulated seconds.
    const granted: number[] = [];
    let refusals = 0;
    for (; now < start + 10_000; now += 50) {
      const decision = await take(gate, window);
      if (decision.granted) granted.push(now);
      else {
        refusals++;
        expect(decision.retryAfterMs).toBeGreaterThan(0);
        expect(decision.retryAfterMs).toBeLessThanOrEqual(window.windowMs);
      }
    }
    expect(granted).toHaveLength((10_000 / window.windowMs) * window.limit);
    expect(refusals).toBe(200 - granted.length);
    expect(busiestWindow(granted, window.windowMs)).toBe(window.limit);
  }, 30_000);

  it('waiting exactly retryAfterMs always finds a slot, and the rate is limit/window', async () => {
    const window = { scope: freshScope(), limit: 4, windowMs: 3_000 };
    const start = Date.now();
    let now = start;
    const gate = instance(() => now);

    const granted: number[] = [];
    let waited = false;
    while (now < start + 30_000) {
      const decision = await take(gate, window);
      expect(decision.granted || !waited, `refused again after waiting, at +${now - start} ms`).toBe(true);
      waited = !decision.granted;
      if (decision.granted) {
        granted.push(now);
        // Arrivals that trickle in between the bursts.
        now += 7;
      } else {
        now += decision.retryAfterMs;
      }
    }
    const spanMs = (granted.at(-1) as number) - (granted[0] as number);
    expect(granted.length).toBe(40);
    expect(busiestWindow(granted, window.windowMs)).toBe(window.limit);
    // 40 grants need 9 full windows between the first and the last burst.
    expect(spanMs).toBeGreaterThanOrEqual(9 * window.windowMs);
    expect(spanMs).toBeLessThan(10 * window.windowMs);
  }, 30_000);

  it('never lets 8 concurrent instances exceed the limit in any window', async () => {
    const window = { scope: freshScope(), limit: 10, windowMs: 1_000 };
    const durationMs = 3_000;
    const start = Date.now();
    const granted: number[] = [];

    await Promise.all(
      Array.from({ length: 8 }, async () => {
        const gate = instance(Date.now);
        while (Date.now() < start + durationMs) {
          // The slot's time is the one the instance decided at.
          const decision = await gate.write([], window).catch((error: unknown) => {
            if (error instanceof RateLimitedError) return error;
            throw error;
          });
          if (decision && !(decision instanceof RateLimitedError)) {
            if (decision.at < start + durationMs) granted.push(decision.at);
          } else if (decision) {
            await new Promise((r) =>
              setTimeout(r, Math.min(decision.retryAfterMs, start + durationMs - Date.now())),
            );
          }
        }
      }),
    );

    granted.sort((x, y) => x - y);
    expect(busiestWindow(granted, window.windowMs)).toBeLessThanOrEqual(window.limit);
    // At most a burst per window started: 30 in 3 s from idle.
    expect(granted.length).toBeLessThanOrEqual(window.limit * Math.ceil(durationMs / window.windowMs));
    expect(granted.length).toBeGreaterThan(0);
  }, 15_000);

  it('reserves one future slot per waiting writer across 6 instances, never more than `limit` in any window', async () => {
    const window = { scope: freshScope(), limit: 5, windowMs: 2_000 };
    const now = Date.now();
    // A burst of 40 from six instances at once (each clock a ms apart): 5 now, the rest reserved, 5 per window.
    const slots = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const gate = instance(() => now + i);
        const mine: number[] = [];
        for (let n = i; n < 40; n += 6) {
          const granted = await gate.write([], window, {}, now + 60_000);
          if (granted) mine.push(granted.at);
        }
        return mine;
      }),
    );
    const all = slots.flat().sort((x, y) => x - y);
    expect(all).toHaveLength(40);
    expect(busiestWindow(all, window.windowMs)).toBe(window.limit);
    // The burst takes 8 windows' worth of slots, with nothing wasted between them.
    expect((all.at(-1) as number) - (all[0] as number)).toBeLessThan(8 * window.windowMs);
    expect(all.filter((t) => t <= now + 5).length).toBe(window.limit);
  }, 30_000);

  it("an instance's writers on one window go together: none loses a race to another", async () => {
    const window = { scope: freshScope(), limit: 50, windowMs: 60_000 };
    const gate = instance(Date.now);
    const results = await Promise.all(Array.from({ length: 30 }, () => gate.write([], window)));
    expect(results.every((r) => r?.scope === window.scope)).toBe(true);
    // All 30 granted now, in one window, none refused as contended.
    expect(gate.freeSlots(window)).toBe(20);
  }, 30_000);

  it("an instance's waiting writers on one window share a transaction: 30 at once take a few round trips", async () => {
    const window = { scope: freshScope(), limit: 20, windowMs: 60_000 };
    let transactions = 0;
    const client = dynamo.client((raw) =>
      raw.middlewareStack.add(
        (next, context) => (args) => {
          if (context.commandName === 'TransactWriteItemsCommand') transactions++;
          return next(args);
        },
        { step: 'initialize' },
      ),
    );
    const gate = new SlotTransactions(client, () => dynamo.tables.counters, Date.now);
    const now = Date.now();
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        gate.write([], window, {}, i < 25 ? undefined : now + 600_000).catch((error) => error),
      ),
    );
    // 20 taken now, the 5 that may reserve get the next window's first slots, the other 5 are refused.
    const granted = results.filter((r) => r && !(r instanceof Error)) as { at: number }[];
    expect(granted).toHaveLength(25);
    expect(granted.filter((g) => g.at < now + 60_000)).toHaveLength(20);
    expect(results.filter((r) => r instanceof RateLimitedError && !r.contended)).toHaveLength(5);
    // The first writer alone, then the 29 that queued meanwhile in one transaction.
    expect(transactions).toBeLessThanOrEqual(3);
    const { Item } = await client.send(
      new GetCommand({
        TableName: dynamo.tables.counters,
        Key: { counterId: `quota#${window.scope}` },
        ConsistentRead: true,
      }),
    );
    expect(Item?.grants).toHaveLength(25);
  }, 30_000);

  it('a slot asked a moment ahead is that far ahead of the write: a writer that waited its turn gets it later', async () => {
    const window = { scope: freshScope(), limit: 10, windowMs: 60_000 };
    const start = Date.now();
    let now = start;
    const gate = instance(() => now);
    const first = gate.write([], { ...window, at: start + 150 });
    const second = gate.write([], { ...window, at: start + 150 });
    // The first is in flight; the second waits for it while 400 ms pass.
    now += 400;
    expect(await first).toEqual({ scope: window.scope, at: start + 150 });
    // 150 ms after its turn came, and no sooner than a write as slow as the first (400 ms, a fifth more)
    // would commit: granted at its turn, a slot 150 ms on would be reached late.
    expect(await second).toEqual({ scope: window.scope, at: start + 400 + 480 });
  });

  it('grants a slot asked a moment ahead no sooner than its last write took to commit, while that is recent', async () => {
    const window = { scope: freshScope(), limit: 10, windowMs: 60_000 };
    let now = Date.now();
    const gate = instance(() => now);
    /** A slot asked 150 ms ahead: when it is granted. */
    const ahead = () => gate.write([], { ...window, at: now + 150 }).then((slot) => slot?.at);
    const slow = ahead();
    now += 600; // the write takes 600 ms (a burst's acceptance ahead of it in DynamoDB)
    await slow;
    now += 1_000;
    expect(await ahead()).toBe(now + 720);
    // That write took no time: the next is granted as asked.
    expect(await ahead()).toBe(now + 150);
    // A slow write long ago says nothing of the next one.
    const slowAgain = ahead();
    now += 600;
    await slowAgain;
    now += 3_001;
    expect(await ahead()).toBe(now + 150);
  });

  it('spaces the slots one group asks for the same moment 10 ms apart, so their submits do not leave at once', async () => {
    const window = { scope: freshScope(), limit: 10, windowMs: 60_000 };
    const start = Date.now();
    const gate = instance(() => start);
    const first = gate.write([], { ...window, at: start + 150 });
    // These three queue behind the first and go together, in the order they asked.
    const group = [1, 2, 3].map(() => gate.write([], { ...window, at: start + 150 }));
    expect(await first).toEqual({ scope: window.scope, at: start + 150 });
    expect((await Promise.all(group)).map((slot) => slot?.at)).toEqual([
      start + 150,
      start + 160,
      start + 170,
    ]);
  });

  it("a writer whose own condition fails leaves its group with its handler's error; the others write", async () => {
    const window = { scope: freshScope(), limit: 10, windowMs: 60_000 };
    const gate = instance(Date.now);
    const gone = new Error('task moved');
    const check = (taskId: string) => ({
      ConditionCheck: {
        TableName: dynamo.tables.tasks,
        Key: { taskId },
        ConditionExpression: 'attribute_not_exists(taskId)',
      },
    });
    const existing = `task-${randomUUID()}`;
    await dynamo
      .client()
      .send(new PutCommand({ TableName: dynamo.tables.tasks, Item: { taskId: existing } }));
    const outcomes = await Promise.all(
      [`task-${randomUUID()}`, existing, `task-${randomUUID()}`, `task-${randomUUID()}`].map((taskId) =>
        gate
          .write([check(taskId)], window, {
            beforeSlot: ([own]) => {
              if (own?.Code === 'ConditionalCheckFailed') throw gone;
            },
          })
          .catch((error) => error),
      ),
    );
    expect(outcomes[1]).toBe(gone);
    expect(outcomes.filter((o) => o?.scope === window.scope)).toHaveLength(3);
    // Only the three that wrote hold slots.
    expect(gate.freeSlots(window)).toBe(7);
  }, 30_000);

  it.each([
    [{ limit: 0, windowMs: 1_000 }],
    [{ limit: 2.5, windowMs: 1_000 }],
    [{ limit: 1_001, windowMs: 1_000 }],
    [{ limit: 5, windowMs: 0 }],
  ])('refuses an unusable window %o', async (rule) => {
    await expect(instance(Date.now).write([], { scope: 'kie', ...rule })).rejects.toThrow(/Rate window kie/);
  });
});

describe('DynamoTaskStore.startRendition with a rate window', () => {
  it('claims, charges and takes the slot in one transaction; a full window writes and charges nothing', async () => {
    const client = dynamo.client();
    const store = new DynamoTaskStore({
      client,
      tasksTable: dynamo.tables.tasks,
      apiKeysTable: dynamo.tables.apiKeys,
      countersTable: dynamo.tables.counters,
    });
    const keyHash = `key-${randomUUID()}`;
    await client.send(
      new PutCommand({
        TableName: dynamo.tables.apiKeys,
        Item: { keyHash, name: 'test', credits: 1000, webhookSecret: 's' },
      }),
    );
    const task = {
      ...newTask({
        request: generateRequestSchema({ allowLoopback: false, allowHttp: false }).parse({ prompt: 'a cat' }),
        paramJson: '{}',
        keyHash,
        credits: 60,
        provider: 'simulator',
        now: Date.now(),
        retentionDays: 14,
        budgetSeconds: 600,
      }),
      status: 'succeeded' as const,
    };
    await client.send(new PutCommand({ TableName: dynamo.tables.tasks, Item: task }));
    const job = (index: number): RenditionJob => ({
      resolution: '4k',
      index,
      status: 'processing',
      requestedAt: Date.now(),
      credits: 120,
    });
    const charge = { keyHash, credits: 120 };
    const window = { scope: `rate#${keyHash}`, limit: 1, windowMs: 60_000 };

    expect(await store.startRendition(task.taskId, '4k_0', job(0), charge, window)).toBe(true);
    const refused = await store.startRendition(task.taskId, '4k_1', job(1), charge, window).catch((e) => e);
    expect(refused).toBeInstanceOf(RateLimitedError);

    const stored = await store.get(task.taskId);
    expect(Object.keys(stored?.renditions ?? {})).toEqual(['4k_0']);
    const key = await client.send(
      new GetCommand({ TableName: dynamo.tables.apiKeys, Key: { keyHash }, ConsistentRead: true }),
    );
    expect(key.Item?.credits).toBe(880);
    // A rendition already claimed answers false, and its transaction takes nothing from a window with room.
    const other = { scope: `rate#${keyHash}-other`, limit: 1, windowMs: 60_000 };
    expect(await store.startRendition(task.taskId, '4k_0', job(0), charge, other)).toBe(false);
    const counter = await client.send(
      new GetCommand({
        TableName: dynamo.tables.counters,
        Key: { counterId: `quota#${other.scope}` },
        ConsistentRead: true,
      }),
    );
    expect(counter.Item).toBeUndefined();
  });
});
