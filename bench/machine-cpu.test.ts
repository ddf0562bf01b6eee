import { describe, expect, it } from 'vitest';
import { busyShare, watchMachineCpu } from './machine-cpu';

describe('busyShare', () => {
  const samples = [
    { at: 0, busyMs: 0, totalMs: 0 },
    { at: 100, busyMs: 150, totalMs: 200 },
    { at: 200, busyMs: 170, totalMs: 400 },
  ];

  it('is the busy share of the CPU time between the first and last sample inside the stretch', () => {
    expect(busyShare(samples, 0, 100)).toBe(0.75);
    expect(busyShare(samples, 100, 200)).toBe(0.1);
    expect(busyShare(samples, 0, 250)).toBeCloseTo(170 / 400);
  });

  it('is NaN where fewer than two samples fall within the stretch', () => {
    expect(busyShare(samples, 50, 150)).toBeNaN();
    expect(busyShare(samples, 300, 400)).toBeNaN();
  });
});

describe('watchMachineCpu', () => {
  it('samples the counters over time, busy never above the total', async () => {
    const watch = watchMachineCpu(10);
    const until = Date.now() + 60;
    while (Date.now() < until) {
      // Busy on purpose: the counters move.
    }
    await new Promise((r) => setTimeout(r, 30));
    watch.stop();
    expect(watch.samples.length).toBeGreaterThanOrEqual(3);
    const first = watch.samples[0];
    const last = watch.samples.at(-1);
    expect(last && first && last.totalMs - first.totalMs).toBeGreaterThan(0);
    const share = busyShare(watch.samples, first?.at ?? 0, last?.at ?? 0);
    expect(share).toBeGreaterThan(0);
    expect(share).toBeLessThanOrEqual(1);
  });
});
