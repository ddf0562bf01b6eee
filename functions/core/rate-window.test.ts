import { describe, expect, it } from 'vitest';
import {
  carryNoticeMs,
  freeSlotsOf,
  nextGrant,
  parseRateLimit,
  type SlotLog,
  slotFreeInMsOf,
  slotNow,
  upstreamWindow,
} from './rate-window';

describe('parseRateLimit', () => {
  it('reads N per S seconds, with or without the unit, and off', () => {
    expect(parseRateLimit('20/10s')).toEqual({ limit: 20, windowSeconds: 10 });
    expect(parseRateLimit(' 5 / 2 ')).toEqual({ limit: 5, windowSeconds: 2 });
    expect(parseRateLimit('3/0.5s')).toEqual({ limit: 3, windowSeconds: 0.5 });
    expect(parseRateLimit('off')).toBeUndefined();
  });

  it.each(['', '20', '20/0s', '0/10s', '1001/10s', '-1/10s', '20/10m', 'twenty/10s', '2.5/10s'])(
    'refuses %j',
    (text) => {
      expect(() => parseRateLimit(text)).toThrow(/looks like 20\/10s/);
    },
  );
});

/** The most grants of `times` in any window (s − windowMs, s]: what a sliding-window upstream counts. */
function busiest(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  return Math.max(0, ...sorted.map((s) => sorted.filter((t) => t > s - windowMs && t <= s).length));
}

describe('nextGrant: one sliding-window log, slots now or reserved', () => {
  const rule = { limit: 3, windowMs: 1000 };

  it('grants `limit` at once, then refuses now and says when the first grant leaves the window', () => {
    let log: number[] = [];
    for (const now of [0, 10, 20]) {
      const decision = nextGrant({ grants: log }, now, rule);
      if (!decision.granted) throw new Error('refused');
      log = decision.grants;
    }
    expect(nextGrant({ grants: log }, 30, rule)).toEqual({ granted: false, retryAfterMs: 970 });
    expect(nextGrant({ grants: log }, 1000, rule)).toMatchObject({ granted: true, at: 1000 });
  });

  it('reserves the earliest free slot, one per waiting task, each a window after the grant it replaces', () => {
    let log = [0, 10, 20];
    const slots: number[] = [];
    for (let i = 0; i < 7; i++) {
      const decision = nextGrant({ grants: log }, 30, rule, { reserveUntil: 60_000 });
      if (!decision.granted) throw new Error('refused');
      slots.push(decision.at);
      log = decision.grants;
    }
    expect(slots).toEqual([1000, 1010, 1020, 2000, 2010, 2020, 3000]);
    expect(busiest(log, rule.windowMs)).toBe(rule.limit);
  });

  it('does not let a slot taken now jump ahead of reservations that fill the windows it would share', () => {
    // Reserved: 1000, 1010, 1020. At 1005 only one grant is in (5, 1005], but (s − 1000, s] for s = 1020
    // would hold four.
    const log = [0, 10, 20, 1000, 1010, 1020];
    expect(nextGrant({ grants: log }, 1005, rule)).toEqual({ granted: false, retryAfterMs: 995 });
    const reserved = nextGrant({ grants: log }, 1005, rule, { reserveUntil: 10_000 });
    expect(reserved).toMatchObject({ granted: true, at: 2000 });
  });

  it('refuses a reservation later than asked, and one deeper than ten windows of grants', () => {
    expect(nextGrant({ grants: [0, 10, 20] }, 30, rule, { reserveUntil: 999 })).toEqual({
      granted: false,
      retryAfterMs: 970,
    });
    const deep = Array.from({ length: 30 }, (_, i) => Math.floor(i / 3) * 1000 + (i % 3));
    expect(nextGrant({ grants: deep }, 5, rule, { reserveUntil: 1e9 })).toMatchObject({ granted: false });
  });

  it('never lets more than `limit` into any window, whatever the order of takes and reservations', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let log: number[] = [];
    const all: number[] = [];
    for (let now = 0; now < 20_000; now += Math.floor(random() * 150)) {
      const decision = nextGrant(
        { grants: log },
        now,
        rule,
        random() < 0.5 ? { reserveUntil: now + 5000 } : {},
      );
      if (!decision.granted) continue;
      log = decision.grants;
      all.push(decision.at);
    }
    expect(all.length).toBeGreaterThan(40);
    expect(busiest(all, rule.windowMs)).toBe(rule.limit);
  });

  it('gives back a released reservation before deciding: its slot is taken now, or the next is reserved', () => {
    // 1000 was reserved and not used; at 1040 it is given back, and the slot is free again now.
    // (The grants a window old stay in the log a while: ownLoadWindow reads them.)
    expect(nextGrant({ grants: [0, 10, 20, 1000] }, 1040, rule, { release: 1000 })).toEqual({
      granted: true,
      at: 1040,
      grants: [0, 10, 20, 1040],
      moves: [],
    });
    // Reservations after it hold the windows: given back, it makes room for the next reservation only.
    const log = [0, 10, 20, 1000, 1010, 1020, 2000];
    expect(nextGrant({ grants: log }, 1040, rule, { release: 1000, reserveUntil: 9_000 })).toMatchObject({
      granted: true,
      at: 2010,
      grants: [0, 10, 20, 1010, 1020, 2000, 2010],
    });
    // A release of a time not in the log gives nothing back.
    expect(nextGrant({ grants: [0, 10, 20] }, 30, rule, { release: 5 })).toMatchObject({ granted: false });
  });
});

describe('nextGrant carrying the reservations anchored on a slot reached late', () => {
  const rule = { limit: 3, windowMs: 10_000 };
  // A burst: three slots taken now, and two windows' reservations each anchored a window after one.
  const burst = [0, 10, 20, 10_000, 10_010, 10_020, 20_000, 20_010, 20_020];

  it('moves the slot and its chain by as much, so the windows keep three each and no slot goes unused', () => {
    // Slot 0 reached late at 80: moving it alone to 200 would make four in (20, 10 020].
    expect(nextGrant({ grants: burst }, 80, rule, { at: 200, release: 0 })).toMatchObject({ granted: false });
    const carried = nextGrant({ grants: burst }, 80, rule, { at: 200, release: 0, carry: true });
    expect(carried).toEqual({
      granted: true,
      at: 200,
      grants: [10, 20, 200, 10_010, 10_020, 10_200, 20_010, 20_020, 20_200],
      moves: [
        [10_000, 10_200],
        [20_000, 20_200],
      ],
    });
    if (!carried.granted) return;
    expect(busiest(carried.grants, rule.windowMs)).toBe(rule.limit);
    // Each holder finds its slot by the time it was given; a slot carried twice, through both moves.
    expect(slotNow(carried, 10_000)).toBe(10_200);
    expect(slotNow(carried, 10_010)).toBe(10_010);
    const twice = nextGrant(carried, 260, rule, { at: 400, release: 200, carry: true });
    expect(twice).toMatchObject({ granted: true, at: 400 });
    if (twice.granted) expect(slotNow(twice, 20_000)).toBe(20_400);
    // Given back by the time it was granted, a carried reservation leaves the log where it went.
    const released = nextGrant(carried, 300, rule, { release: 10_000, reserveUntil: 60_000 });
    expect(released).toMatchObject({ granted: true, at: 10_200 });
  });

  it('carries nothing due within carryNoticeMs (its holder may have read it), nor past the limit', () => {
    // A one-second window: the reservation at 1000 is due too soon to be carried.
    const short = { limit: 3, windowMs: 1000 };
    const log = { grants: [0, 10, 20, 1000, 1010, 1020] };
    expect(nextGrant(log, 80, short, { at: 200, release: 0, carry: true })).toMatchObject({ granted: false });
    expect(carryNoticeMs).toBeGreaterThan(1000 - 80);
    // The chain's last reservation carried to 10 200 would make four in (10 120, 20 120].
    const crowded = { grants: [0, 10, 20, 10_000, 10_010, 10_020, 20_100, 20_110, 20_120] };
    expect(nextGrant(crowded, 80, rule, { at: 200, release: 0, carry: true })).toMatchObject({
      granted: false,
    });
  });

  it('never lets more than `limit` into any window, whatever slots are carried', () => {
    let seed = 11;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let log: SlotLog = { grants: [] };
    let carries = 0;
    for (let now = 0; now < 120_000; now += Math.floor(random() * 400)) {
      const due = log.grants.filter((t) => t > now - 500 && t <= now);
      const late = due[Math.floor(random() * due.length)];
      const claim =
        late !== undefined && random() < 0.5
          ? { at: now + Math.floor(random() * 600), release: late, carry: true }
          : { reserveUntil: now + 40_000 };
      const decision = nextGrant(log, now, rule, claim);
      if (!decision.granted) continue;
      if ('carry' in claim && decision.moves.length > (log.moves?.length ?? 0)) carries++;
      log = decision;
      expect(busiest(log.grants, rule.windowMs)).toBeLessThanOrEqual(rule.limit);
    }
    expect(carries).toBeGreaterThan(5);
  });
});

describe('nextGrant at a moment ahead', () => {
  const rule = { limit: 2, windowMs: 1000 };
  it('grants the slot at `at` only, counting the windows that hold `at`, not now', () => {
    expect(nextGrant({ grants: [] }, 0, rule, { at: 150 })).toEqual({
      granted: true,
      at: 150,
      grants: [150],
      moves: [],
    });
    // Free now, but the windows holding 150 also hold the reservations at 1000 and 1100.
    expect(nextGrant({ grants: [1000, 1100] }, 0, rule, { at: 150 })).toMatchObject({ granted: false });
    // Full now (50 and 100 in (0, 1000]), free at 1100, when both have left the window ending there.
    expect(nextGrant({ grants: [50, 100] }, 1000, rule, { at: 1100 })).toMatchObject({
      granted: true,
      at: 1100,
    });
  });
});

describe('freeSlotsOf', () => {
  const rule = { limit: 3, windowMs: 1000 };
  it('counts the slots free now, and none while reservations ahead would refuse a slot now', () => {
    expect(freeSlotsOf({ grants: [] }, 0, rule)).toBe(3);
    expect(freeSlotsOf({ grants: [0, 10] }, 500, rule)).toBe(1);
    expect(freeSlotsOf({ grants: [0, 10, 20] }, 500, rule)).toBe(0);
    // Nothing granted in the last window, but three reserved within the next: a slot now would make four.
    expect(freeSlotsOf({ grants: [1200, 1300, 1400] }, 1000, rule)).toBe(0);
    expect(freeSlotsOf({ grants: [5000, 5001, 5002] }, 1000, rule)).toBe(3);
    // A slot taken a moment ahead holds the window as one taken already; one given back does not.
    expect(freeSlotsOf({ grants: [1150] }, 1000, rule)).toBe(2);
    expect(freeSlotsOf({ grants: [1150] }, 1000, { ...rule, release: 1150 })).toBe(3);
  });
});

describe('slotFreeInMsOf', () => {
  const rule = { limit: 2, windowMs: 1000 };
  it('is 0 when a slot now would be granted, else how long until the earliest would', () => {
    expect(slotFreeInMsOf({ grants: [0] }, 500, rule)).toBe(0);
    expect(slotFreeInMsOf({ grants: [0, 10] }, 500, rule)).toBe(500);
    // A claim for a moment the window has room, and one giving a slot back.
    expect(slotFreeInMsOf({ grants: [0, 10] }, 500, { ...rule, at: 1200 })).toBe(0);
    expect(slotFreeInMsOf({ grants: [0, 10] }, 500, { ...rule, release: 10 })).toBe(0);
    // Reservations ahead hold it as well: the two at 1200 and 1300 leave nothing before 2200.
    expect(slotFreeInMsOf({ grants: [1200, 1300] }, 1000, rule)).toBe(1200);
  });
});

describe('upstreamWindow: our window over an upstream’s, by a margin', () => {
  it('adds 150 ms to a window up to 15 s, and 1 % to a longer one', () => {
    const quota = (windowMs: number) => ({ scope: 'u', limit: 20, windowMs });
    expect(upstreamWindow(quota(2_000)).windowMs).toBe(2_150);
    expect(upstreamWindow(quota(10_000)).windowMs).toBe(10_150);
    expect(upstreamWindow(quota(60_000)).windowMs).toBe(60_600);
    expect(upstreamWindow(quota(60_000))).toMatchObject({ scope: 'u', limit: 20 });
  });
});
