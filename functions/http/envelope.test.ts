import { describe, expect, it } from 'vitest';
import { JSON_MAX_DEPTH, jsonNestsDeeperThan } from './envelope';

describe('the request body', () => {
  it(`finds JSON nested deeper than ${JSON_MAX_DEPTH} levels without recursion, ignoring brackets in strings`, () => {
    const nested = (depth: number) =>
      `{"prompt":"p","enableFallback":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
    expect(jsonNestsDeeperThan(nested(JSON_MAX_DEPTH))).toBe(false);
    expect(jsonNestsDeeperThan(nested(JSON_MAX_DEPTH + 1))).toBe(true);
    expect(jsonNestsDeeperThan(nested(10_000))).toBe(true);
    expect(jsonNestsDeeperThan(`{"prompt":"${'[{'.repeat(10_000)}"}`)).toBe(false);
    expect(jsonNestsDeeperThan(`{"prompt":"a \\" ${'['.repeat(50)}"}`)).toBe(false);
    // 10 MB, the gateway's largest body, read in well under a second.
    const started = Date.now();
    expect(jsonNestsDeeperThan(`{"prompt":"${'x'.repeat(10 * 1024 * 1024)}"}`)).toBe(false);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
