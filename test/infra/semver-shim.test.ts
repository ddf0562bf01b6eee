import { describe, expect, it } from 'vitest';
import { gte } from '../../infra/shims/semver';

describe('the semver shim the bundles get', () => {
  it('compares major, minor and patch as numbers, as semver.gte does for plain versions', () => {
    expect(gte('22.11.0', '8.0.0')).toBe(true);
    expect(gte('8.0.0', '8.0.0')).toBe(true);
    expect(gte('7.10.1', '8.0.0')).toBe(false);
    expect(gte('2.7.9', '2.7.15')).toBe(false);
    expect(gte('2.1692.0', '2.7.15')).toBe(true);
    expect(gte('v22.0.0', '22.0.0')).toBe(true);
  });
});
