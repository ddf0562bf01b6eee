import { describe, expect, it } from 'vitest';
import { medianOfRepeats, type Results, versus } from './results';

const run = (seconds: number, upstream429s: number): Results => ({
  'burst.drain': versus(seconds, 18, 's', '≤ 1.10×'),
  'burst.first-window.spread': { value: Math.round(seconds * 100), unit: 'ms' },
  'burst.upstream-429s': { value: upstream429s, unit: 'responses', goal: '0' },
});

describe('medianOfRepeats', () => {
  it("reports the median run's figures, the other runs' ends, and counts summed over every run", () => {
    const merged = medianOfRepeats([run(21.6, 0), run(19.8, 2), run(20.4, 0)], 'burst.drain', [
      'burst.upstream-429s',
    ]);
    expect(merged['burst.drain']).toMatchObject({ value: 20.4, ratio: 1.133, goal: '≤ 1.10×' });
    // The median run's own figures, not a mix of runs.
    expect(merged['burst.first-window.spread']?.value).toBe(2040);
    expect(merged['burst.drain.min']).toMatchObject({ value: 19.8, ratio: 1.1 });
    expect(merged['burst.drain.max']).toMatchObject({ value: 21.6, ratio: 1.2 });
    expect(merged['burst.drain.min']?.goal).toBeUndefined();
    expect(merged['burst.drain.repeats']?.value).toBe(3);
    // A 429 in any run counts: the goal of 0 is for all of them.
    expect(merged['burst.upstream-429s']).toEqual({ value: 2, unit: 'responses (3 runs)', goal: '0' });
  });

  it('takes the lower middle of an even count and refuses no runs', () => {
    expect(medianOfRepeats([run(20, 0), run(22, 0)], 'burst.drain', [])['burst.drain']?.value).toBe(20);
    expect(() => medianOfRepeats([], 'burst.drain', [])).toThrow('no runs of burst.drain');
  });
});
