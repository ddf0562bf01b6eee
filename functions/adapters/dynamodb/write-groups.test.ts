import { describe, expect, it } from 'vitest';
import type { SlotClaim } from '../../core/rate-window';
import type { TransactItem } from './credits';
import { emptyState } from './rate-counter';
import { decideGroup, takeGroup, type Writer } from './write-groups';

// Pure logic: no DynamoDB. slot-transactions.test.ts checks the same rules through DynamoDB Local.

const update = (taskId: string): TransactItem => ({
  Update: { TableName: 'tasks', Key: { taskId }, UpdateExpression: 'SET x = :x' },
});

function writer(items: TransactItem[], windows: SlotClaim[] = [], calledAt = 0): Writer {
  return { items, windows, on: {}, reserveUntil: undefined, calledAt, resolve: () => {}, reject: () => {} };
}

describe('takeGroup', () => {
  it('takes the writers in order, leaving one that touches an item already in the group for the next', () => {
    const a = writer([update('t1')]);
    const b = writer([update('t1')]);
    const c = writer([update('t2')]);
    const queue = [a, b, c];
    expect(takeGroup(queue)).toEqual([a, c]);
    expect(queue).toEqual([b]);
  });

  it("holds at most DynamoDB's 100 actions, each counter counted once", () => {
    const window = { scope: 'kie', limit: 1000, windowMs: 1000 };
    const queue = Array.from({ length: 120 }, (_, i) => writer([update(`t${i}`)], [window]));
    // 99 writers' items and the one counter.
    expect(takeGroup(queue)).toHaveLength(99);
    expect(queue).toHaveLength(21);
  });
});

describe('decideGroup', () => {
  const window = { scope: 'kie', limit: 20, windowMs: 2000 };
  const now = 10_000;
  const fresh = new Set(['kie']);
  const counters = new Map([['kie', emptyState]]);

  it('gives the writers asking the same moment slots 10 ms apart, after the time each waited for its turn', () => {
    const writers = [0, 1, 2].map((i) => writer([update(`t${i}`)], [{ ...window, at: 9_950 + 150 }], 9_950));
    const { chosen } = decideGroup(writers, counters, fresh, now, 0);
    expect(writers.map((w) => chosen.get(w)?.at)).toEqual([now + 150, now + 160, now + 170]);
  });

  it('grants a slot asked a moment ahead no sooner than the write is expected to commit', () => {
    const w = writer([update('t')], [{ ...window, at: now + 150 }], now);
    expect(decideGroup([w], counters, fresh, now, 400).chosen.get(w)?.at).toBe(now + 400);
    // Shorter than the lead asked: the lead stands.
    expect(decideGroup([w], counters, fresh, now, 100).chosen.get(w)?.at).toBe(now + 150);
  });

  it('refuses only from a counter just read; on one seen earlier, it asks for a read first', () => {
    const full = new Map([['kie', { grants: Array.from({ length: 20 }, () => now - 500), revision: 'r' }]]);
    const w = writer([update('t')], [window]);
    const seenEarlier = decideGroup([w], full, new Set(), now, 0);
    expect(seenEarlier.stale?.scope).toBe('kie');
    expect(seenEarlier.refused.size).toBe(0);
    const justRead = decideGroup([w], full, fresh, now, 0);
    expect(justRead.stale).toBeUndefined();
    expect(justRead.refused.get(w)).toBeGreaterThan(0);
  });
});
