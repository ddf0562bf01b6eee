import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { PowertoolsMetricsAdapter } from '../adapters/observability/powertools-metrics';
import type { Log, Metrics } from '../core/ports';

export function logger(serviceName: string): Log {
  return new Logger({ serviceName });
}

export function metrics(): Metrics {
  return new PowertoolsMetricsAdapter();
}

/**
 * What Powertools' injectLambdaContext does, for a plain handler: every entry of this invocation carries the
 * Lambda context (request id, function name and version, cold start). The local runtime may pass none.
 */
export function addLambdaContext(log: Log, context: Context | undefined): void {
  if (context && log instanceof Logger) log.addContext(context);
}
