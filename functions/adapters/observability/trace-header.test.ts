import { describe, expect, it } from 'vitest';
import {
  currentTraceHeader,
  newTraceHeader,
  traceHeaderOr,
  traceIdOf,
  withTraceHeader,
} from './trace-header';

describe('trace header', () => {
  it('begins a sampled trace in X-Ray format, its Root dated now', () => {
    const header = newTraceHeader(Date.UTC(2026, 10, 30) + 234);
    expect(header).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1$/);
    expect(traceIdOf(header)?.slice(2, 10)).toBe((Date.UTC(2026, 10, 30) / 1000).toString(16));
    expect(newTraceHeader()).not.toBe(newTraceHeader());
  });

  it('reads the Root wherever it stands, and keeps a header that names one', () => {
    expect(traceIdOf('Sampled=1;Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8')).toBe(
      '1-5759e988-bd862e3fe1be46a994272793',
    );
    expect(traceIdOf('Parent=53995c3f42cd8ad8')).toBeUndefined();
    expect(traceHeaderOr('Root=1-5759e988-bd862e3fe1be46a994272793')).toBe(
      'Root=1-5759e988-bd862e3fe1be46a994272793',
    );
    expect(traceHeaderOr('garbage')).toMatch(/^Root=1-/);
    expect(traceHeaderOr(undefined)).toMatch(/^Root=1-/);
  });

  it('keeps each concurrent invocation in its own trace, across awaits', async () => {
    const seen = await Promise.all(
      ['Root=1-00000001-000000000000000000000001', 'Root=1-00000002-000000000000000000000002'].map(
        (header, i) =>
          withTraceHeader(header, async () => {
            await new Promise((r) => setTimeout(r, 20 - i * 10));
            return currentTraceHeader();
          }),
      ),
    );
    expect(seen).toEqual([
      'Root=1-00000001-000000000000000000000001',
      'Root=1-00000002-000000000000000000000002',
    ]);
    expect(currentTraceHeader()).toBeUndefined();
  });
});
