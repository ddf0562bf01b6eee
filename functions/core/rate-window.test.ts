import { describe, expect, it } from 'vitest';
import { parseRateLimit } from './rate-window';

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
