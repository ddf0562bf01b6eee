import { Logger } from '@aws-lambda-powertools/logger';
import { PowertoolsMetricsAdapter } from '../adapters/observability/powertools-metrics';
import type { Log, Metrics } from '../core/ports';

export function logger(serviceName: string): Log {
  return new Logger({ serviceName });
}

export function metrics(): Metrics {
  return new PowertoolsMetricsAdapter();
}
