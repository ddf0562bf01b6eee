import { describe, expect, it } from 'vitest';
import { upstreamMarginMs } from '../functions/core/rate-window';
import { slotLatenessMs } from '../functions/core/stages/generate';
import { quotaTimeline } from './quota-timeline';

const quota = { limit: 2, windowMs: 1000 };

describe('quotaTimeline', () => {
  it("measures the first window's spread and each slot's reuse after its window", () => {
    // Two slots: 0 and 50, reused 150 and 170 ms after their windows ended.
    const out = quotaTimeline('burst', [0, 50, 1150, 1220], quota);
    expect(out['burst.first-window.spread']?.value).toBe(50);
    expect(out['burst.slot-reuse.min']?.value).toBe(150);
    expect(out['burst.slot-reuse.max']?.value).toBe(170);
  });

  it('counts the slots reused later than the margin and the worker’s lateness allow, with their share', () => {
    const allowed = upstreamMarginMs + slotLatenessMs;
    // Reuses: on the margin, at the allowance, 1 ms past it, and seconds late.
    const arrivals = [
      0,
      10,
      1000 + upstreamMarginMs,
      1010 + allowed,
      2000 + upstreamMarginMs + allowed + 1,
      3000 + allowed + 2000,
    ];
    const out = quotaTimeline('burst.real', arrivals, quota);
    expect(out['burst.real.slot-reuse.late']).toEqual({ value: 2, unit: 'slots', baseline: 4, ratio: 0.5 });
  });

  it('allows a long window its own margin (1 % of a minute) before a reuse is late', () => {
    const minute = { limit: 1, windowMs: 60_000 };
    // Reused 650 ms after the window (600 ms margin + 50 ms lateness: on time), then 651 ms (late).
    const out = quotaTimeline('burst.pool.vertex', [0, 60_650, 121_301], minute);
    expect(out['burst.pool.vertex.slot-reuse.late']).toEqual({
      value: 1,
      unit: 'slots',
      baseline: 2,
      ratio: 0.5,
    });
  });

  it('has nothing late when no slot was reused', () => {
    expect(quotaTimeline('burst', [0, 10], quota)['burst.slot-reuse.late']).toEqual({
      value: 0,
      unit: 'slots',
    });
  });
});
