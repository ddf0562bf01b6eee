import { describe, expect, it } from 'vitest';
import { backoffMs, pollDelaySeconds } from './pipeline';
import { closerAspectRatio } from './upstream-request';

describe('Auto aspect ratio', () => {
  it.each([
    [1920, 1080, '16:9'],
    [1080, 1920, '9:16'],
    [1000, 1000, '16:9'], // a square is as far from both: the default wins
    [1000, 1100, '9:16'],
    [1100, 1000, '16:9'],
    [4000, 100, '16:9'],
    [100, 4000, '9:16'],
  ])('%i×%i → %s', (width, height, expected) => {
    expect(closerAspectRatio(width, height)).toBe(expected);
  });
});

describe('retry pacing', () => {
  it('backs off exponentially with full jitter, at least 1 s and at most 2 minutes', () => {
    expect([0, 1, 2, 3].map((a) => backoffMs(a, () => 1))).toEqual([2000, 4000, 8000, 16000]);
    expect(backoffMs(20, () => 1)).toBe(120_000);
    expect(backoffMs(3, () => 0)).toBe(1000);
    expect(backoffMs(3, () => 0.5)).toBe(8000);
  });

  it('polls more slowly as a generation takes longer, up to six times the first interval', () => {
    const deps = { settings: { pollIntervalSeconds: 10 } } as Parameters<typeof pollDelaySeconds>[0];
    expect([0, 1, 2, 3, 4, 5, 10].map((p) => pollDelaySeconds(deps, p))).toEqual([
      10, 15, 23, 34, 51, 60, 60,
    ]);
  });
});
