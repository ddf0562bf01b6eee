import { MetricUnit, Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import type { MetricUnit as Unit } from '@aws-lambda-powertools/metrics/types';
import type { Metrics } from '../../core/ports';

export const METRICS_NAMESPACE = 'VeoServerless';
/** The one `service` dimension on every metric, so alarms can read the totals across models. */
export const METRICS_SERVICE = 'veo-serverless';

/**
 * Core metrics as CloudWatch EMF lines on stdout. Each value is written at once (Powertools'
 * `singleMetric()`), so no handler has to flush and nothing is lost when an invocation throws.
 * Every metric carries two dimension sets: [service] for totals (the alarms) and
 * [service, ...dimensions] for the breakdown (the dashboard). POWERTOOLS_METRICS_DISABLED=true
 * (the local stack, tests) turns emission off.
 */
export class PowertoolsMetricsAdapter implements Metrics {
  constructor(
    private readonly metrics = new PowertoolsMetrics({
      namespace: METRICS_NAMESPACE,
      serviceName: METRICS_SERVICE,
    }),
  ) {}

  count(name: string, dimensions: Record<string, string> = {}, metadata: Record<string, string> = {}): void {
    this.emit(name, MetricUnit.Count, 1, dimensions, metadata);
  }

  milliseconds(name: string, value: number, dimensions: Record<string, string> = {}): void {
    this.emit(name, MetricUnit.Milliseconds, value, dimensions, {});
  }

  private emit(
    name: string,
    unit: Unit,
    value: number,
    dimensions: Record<string, string>,
    metadata: Record<string, string>,
  ): void {
    const single = this.metrics.singleMetric();
    single.addDimensions({});
    if (Object.keys(dimensions).length > 0) single.addDimensions(dimensions);
    for (const [key, text] of Object.entries(metadata)) single.addMetadata(key, text);
    single.addMetric(name, unit, value); // a single metric publishes here
  }
}
