import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startEmulators } from '../../../local/emulators';
import { DynamoQuotaGate, type QuotaLimit } from './quota-gate';

// Real DynamoDB Local: the gate's guarantee rests on its conditional writes, which a fake would not test.
let stack: LocalStack;
const clients: DynamoDBDocumentClient[] = [];

beforeAll(async () => {
  stack = await startEmulators();
}, 90_000);

afterAll(async () => {
  for (const client of clients) client.destroy();
  await stack?.stop();
});

/** A client of its own, as each Lambda instance has. */
function newClient(): DynamoDBDocumentClient {
  const client = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      region: stack.region,
      credentials: stack.credentials,
      endpoint: stack.dynamodbEndpoint,
    }),
  );
  clients.push(client);
  return client;
}

/** A scope of its own per test, so tests share the table but no counter. */
const freshScope = () => `test-${randomUUID()}`;

function gateFor(scope: string, rule: QuotaLimit, now: () => number): DynamoQuotaGate {
  return new DynamoQuotaGate({
    client: newClient(),
    table: stack.tables.counters,
    limits: { [scope]: rule },
    now,
  });
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

describe('DynamoQuotaGate', () => {
  it('grants exactly `limit` at once after idleness, then refuses until the first grant leaves the window', async () => {
    const scope = freshScope();
    // Injected clocks start at the real time: DynamoDB Local, like DynamoDB, deletes items whose TTL
    // has passed, so counters written by a clock in the past would vanish mid-test.
    let now = Date.now();
    const gate = gateFor(scope, { limit: 5, windowMs: 10_000 }, () => now);

    const burst = [];
    for (let i = 0; i < 6; i++) burst.push(await gate.tryAcquire(scope));
    expect(burst.slice(0, 5)).toEqual(Array(5).fill({ granted: true }));
    // A sliding window: the sixth fits only once the first grant is a whole window old.
    expect(burst[5]).toEqual({ granted: false, retryAfterMs: 10_000 });

    now += 9_999;
    expect(await gate.tryAcquire(scope)).toEqual({ granted: false, retryAfterMs: 1 });
    // The whole burst leaves the window together, so a whole burst fits again.
    now += 1;
    for (let i = 0; i < 5; i++) expect(await gate.tryAcquire(scope)).toEqual({ granted: true });
    expect(await gate.tryAcquire(scope)).toEqual({ granted: false, retryAfterMs: 10_000 });

    const { Item } = await newClient().send(
      new GetCommand({
        TableName: stack.tables.counters,
        Key: { counterId: `quota#${scope}` },
        ConsistentRead: true,
      }),
    );
    expect(Item?.grants).toHaveLength(5);
    // TTL a little past the end of the newest grant's window.
    expect(Item?.expiresAt).toBe(Math.ceil((now + 10_000) / 1000) + 60);
  });

  it('shares one quota between instances: what one takes, another cannot', async () => {
    const scope = freshScope();
    const now = Date.now();
    const rule = { limit: 5, windowMs: 60_000 };
    const a = gateFor(scope, rule, () => now);
    const b = gateFor(scope, rule, () => now + 1_000);

    for (let i = 0; i < 3; i++) expect(await a.tryAcquire(scope)).toEqual({ granted: true });
    for (let i = 0; i < 2; i++) expect(await b.tryAcquire(scope)).toEqual({ granted: true });
    // `a` still believes 3 are taken: its write loses, and it answers from what the table holds.
    expect(await a.tryAcquire(scope)).toEqual({ granted: false, retryAfterMs: 60_000 });
    expect(await b.tryAcquire(scope)).toEqual({ granted: false, retryAfterMs: 59_000 });
    expect(a.stats).toMatchObject({ grants: 3, refusals: 1, conflicts: 1 });
  });

  it('holds the long-run rate to limit/window under a steady overload (injected clock)', async () => {
    const scope = freshScope();
    const rule = { limit: 5, windowMs: 1_000 };
    const start = Date.now();
    let now = start;
    const gate = gateFor(scope, rule, () => now);

    // Offered: one request every 50 ms, four times the rate, for 10 simulated seconds.
    const granted: number[] = [];
    let refusals = 0;
    for (; now < start + 10_000; now += 50) {
      const decision = await gate.tryAcquire(scope);
      if (decision.granted) granted.push(now);
      else {
        refusals++;
        expect(decision.retryAfterMs).toBeGreaterThan(0);
        expect(decision.retryAfterMs).toBeLessThanOrEqual(rule.windowMs);
      }
    }
    expect(granted).toHaveLength((10_000 / rule.windowMs) * rule.limit);
    expect(refusals).toBe(200 - granted.length);
    expect(busiestWindow(granted, rule.windowMs)).toBe(rule.limit);
  });

  it('waiting exactly retryAfterMs always finds a slot, and the rate is limit/window', async () => {
    const scope = freshScope();
    const rule = { limit: 4, windowMs: 3_000 };
    const start = Date.now();
    let now = start;
    const gate = gateFor(scope, rule, () => now);

    const granted: number[] = [];
    let waited = false;
    while (now < start + 30_000) {
      const decision = await gate.tryAcquire(scope);
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
    expect(busiestWindow(granted, rule.windowMs)).toBe(rule.limit);
    // 40 grants need 9 full windows between the first and the last burst.
    expect(spanMs).toBeGreaterThanOrEqual(9 * rule.windowMs);
    expect(spanMs).toBeLessThan(10 * rule.windowMs);
  });

  it('never lets 8 concurrent instances exceed the limit in any window, and grants close to it', async () => {
    const scope = freshScope();
    const rule = { limit: 10, windowMs: 1_000 };
    const durationMs = 3_000;
    const start = Date.now();
    const granted: number[] = [];

    await Promise.all(
      Array.from({ length: 8 }, async () => {
        // The time the gate decided at: its last clock reading when the call returns.
        let decidedAt = 0;
        const gate = gateFor(scope, rule, () => {
          decidedAt = Date.now();
          return decidedAt;
        });
        while (Date.now() < start + durationMs) {
          const decision = await gate.tryAcquire(scope);
          if (decision.granted) {
            if (decidedAt < start + durationMs) granted.push(decidedAt);
          } else {
            await new Promise((r) =>
              setTimeout(r, Math.min(decision.retryAfterMs, start + durationMs - Date.now())),
            );
          }
        }
      }),
    );

    granted.sort((x, y) => x - y);
    expect(busiestWindow(granted, rule.windowMs)).toBeLessThanOrEqual(rule.limit);
    // At most a burst per window started: 30 in 3 s from idle.
    const most = rule.limit * Math.ceil(durationMs / rule.windowMs);
    expect(granted.length).toBeLessThanOrEqual(most);
    expect(granted.length).toBeGreaterThanOrEqual(0.9 * most);
  }, 15_000);

  it('always grants a scope without a limit, without calling DynamoDB', async () => {
    const unreachable = {
      send: () => Promise.reject(new Error('DynamoDB must not be called')),
    } as unknown as DynamoDBDocumentClient;
    const gate = new DynamoQuotaGate({
      client: unreachable,
      table: 'unused',
      limits: { kie: { limit: 1, windowMs: 10_000 } },
    });
    for (let i = 0; i < 50; i++) expect(await gate.tryAcquire('gemini')).toEqual({ granted: true });
    await expect(gate.tryAcquire('kie')).rejects.toThrow('DynamoDB must not be called');
  });

  it.each([
    [{ limit: 0, windowMs: 1_000 }],
    [{ limit: 2.5, windowMs: 1_000 }],
    [{ limit: 1_001, windowMs: 1_000 }],
    [{ limit: 5, windowMs: 0 }],
  ])('refuses an unusable limit %o at construction', (rule) => {
    expect(
      () => new DynamoQuotaGate({ client: newClient(), table: 'unused', limits: { kie: rule } }),
    ).toThrow(/Quota kie/);
  });
});
