import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PowertoolsMetricsAdapter } from './powertools-metrics';

/** Captures the EMF lines Powertools writes to stdout (its own Console, hence process.stdout). */
function captureEmf(act: () => void): Record<string, unknown>[] {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    act();
  } finally {
    spy.mockRestore();
  }
  return lines
    .flatMap((line) => line.split('\n'))
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

describe('PowertoolsMetricsAdapter', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('writes one EMF line per value, totals and breakdown, keys only as metadata', () => {
    // Prepare
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    vi.stubEnv('POWERTOOLS_DEV', 'false');
    const metrics = new PowertoolsMetricsAdapter();

    // Act
    const [submitted, latency] = captureEmf(() => {
      metrics.count('TasksSubmitted', { model: 'veo3_fast' }, { keyHash: 'abcd1234' });
      metrics.milliseconds('UpstreamLatency', 61_000, { provider: 'kie' });
    });

    // Assess
    expect(submitted).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: 'VeoServerless',
            Dimensions: [['service'], ['service', 'model']],
            Metrics: [{ Name: 'TasksSubmitted', Unit: 'Count' }],
          },
        ],
      },
      service: 'veo-serverless',
      model: 'veo3_fast',
      keyHash: 'abcd1234',
      TasksSubmitted: 1,
    });
    expect(latency).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Metrics: [{ Name: 'UpstreamLatency', Unit: 'Milliseconds' }] }] },
      provider: 'kie',
      UpstreamLatency: 61_000,
    });
  });

  it('writes nothing when POWERTOOLS_METRICS_DISABLED is set (the local stack)', () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    const metrics = new PowertoolsMetricsAdapter(new Metrics({ namespace: 'VeoServerless' }));
    expect(captureEmf(() => metrics.count('CallbackFailures'))).toEqual([]);
  });
});
