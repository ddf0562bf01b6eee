import { describe, expect, it } from 'vitest';
import { GenerationTimes, pollDelaySeconds, shapeOf } from './poll-schedule';

const settings = { pollIntervalSeconds: 10 };

describe('GenerationTimes', () => {
  it('says nothing until it has seen enough of a shape, then its fastest and 90th percentile', () => {
    const times = new GenerationTimes(32, 5);
    for (const s of [50, 40, 60, 70]) times.observe('veo3_fast/720p', s * 1000);
    expect(times.range('veo3_fast/720p')).toBeUndefined();
    times.observe('veo3_fast/720p', 80_000);
    expect(times.range('veo3_fast/720p')).toEqual({ fastestMs: 40_000, p90Ms: 70_000 });
    expect(times.range('veo3/1080p')).toBeUndefined();
    expect(times.range(undefined)).toBeUndefined();
  });

  it('keeps only the most recent completions of a shape', () => {
    const times = new GenerationTimes(5, 5);
    for (const s of [10, 10, 10, 10, 10, 100, 100, 100, 100, 100]) times.observe('a', s * 1000);
    expect(times.range('a')).toEqual({ fastestMs: 100_000, p90Ms: 100_000 });
  });
});

describe('pollDelaySeconds with observed times', () => {
  const observed = { fastestMs: 40_000, p90Ms: 70_000 };

  it('waits for the fastest seen (less a tenth) before asking', () => {
    expect(pollDelaySeconds(settings, 10_000, observed)).toBe(26);
  });

  it('polls every 10 % of the elapsed time where most finish, then falls back to the quarter rule', () => {
    expect(pollDelaySeconds(settings, 50_000, observed)).toBe(5);
    expect(pollDelaySeconds(settings, 75_000, observed)).toBe(8);
    expect(pollDelaySeconds(settings, 200_000, observed)).toBe(30);
  });

  it('spreads its polls over a wide range, and keeps the quarter rule for one as wide as all of Veo', () => {
    // 40–105 s: steps of 17 %; 11–250 s would need 68 %, wider than the quarter rule's 25 %.
    expect(pollDelaySeconds(settings, 50_000, { fastestMs: 40_000, p90Ms: 105_000 })).toBe(9);
    expect(pollDelaySeconds(settings, 50_000, { fastestMs: 11_000, p90Ms: 250_000 })).toBe(13);
  });

  it('without observations keeps the quarter rule', () => {
    expect(pollDelaySeconds(settings, 50_000)).toBe(13);
  });

  it('clusters polls where the videos finish: fewer polls and shorter delays than the quarter rule', () => {
    // Videos of one shape finishing between 40 and 80 s, polled from a first poll at 10 s.
    const finishes = Array.from({ length: 41 }, (_, i) => (40 + i) * 1000);
    const walk = (range?: typeof observed) =>
      finishes.map((finish) => {
        let at = 10_000;
        let polls = 1;
        while (at < finish) {
          at += pollDelaySeconds(settings, at, range) * 1000;
          polls++;
        }
        return { delay: at - finish, polls };
      });
    const worst = (xs: { delay: number; polls: number }[], key: 'delay' | 'polls') =>
      Math.max(...xs.map((x) => x[key]));
    const median = (xs: { polls: number }[]) => [...xs.map((x) => x.polls)].sort((a, b) => a - b)[20];
    const learned = walk({ fastestMs: 40_000, p90Ms: 76_000 });
    const quarter = walk();
    expect(worst(learned, 'delay')).toBeLessThan(worst(quarter, 'delay'));
    expect(worst(learned, 'delay')).toBeLessThanOrEqual(8_000);
    expect(median(learned)).toBeLessThanOrEqual(8);
  });
});

it('keys observations by model and the resolution asked of the upstream', () => {
  expect(shapeOf({ request: { model: 'veo3_fast' }, asked: { resolution: '1080p' } } as never)).toBe(
    'veo3_fast/1080p',
  );
});
