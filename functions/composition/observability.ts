// Before any schema is built, whoever imports this module first (the local stack, a test).
import './preload';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';
import { PowertoolsMetricsAdapter } from '../adapters/observability/powertools-metrics';
import { currentTraceHeader, traceIdOf } from '../adapters/observability/trace-header';
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

/**
 * Whether this process records X-Ray segments: in Lambda, unless the deployment turned tracing off
 * (`tracing` = false sets POWERTOOLS_TRACE_ENABLED=false), the two conditions Powertools' Tracer checks.
 */
export function tracingOn(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.AWS_EXECUTION_ENV) && env.POWERTOOLS_TRACE_ENABLED?.toLowerCase() !== 'false';
}

/**
 * The process's one Tracer (X-Ray through Powertools), where tracing is on: one, because a Tracer with
 * tracing on patches http/https for outbound calls (the upstream, callbacks) once per instance. Loaded
 * only then: the X-Ray SDK is 22–27 ms of a cold start (bench: init.floor against init.tracing-off.floor),
 * and outside Lambda its context tracking hooked every promise of the process for nothing.
 */
export const tracer: Tracer | undefined = tracingOn()
  ? new (await import('@aws-lambda-powertools/tracer')).Tracer({ serviceName: 'veo-serverless' })
  : undefined;

type Segment = NonNullable<ReturnType<Tracer['getSegment']>>;

/**
 * What Powertools' captureLambdaHandler does, for a plain handler: the invocation as a `## handler`
 * subsegment with its ColdStart annotation, an error recorded on it. `run` gets that subsegment (none
 * outside Lambda) to hang per-task annotations on.
 */
export async function traceInvocation<T>(run: (segment: Segment | undefined) => Promise<T>): Promise<T> {
  if (!tracer?.isTracingEnabled()) return run(undefined);
  const facade = tracer.getSegment();
  const segment = facade?.addNewSubsegment(`## ${process.env._HANDLER ?? 'handler'}`);
  if (segment) tracer.setSegment(segment);
  tracer.annotateColdStart();
  try {
    return await run(segment);
  } catch (error) {
    tracer.addErrorAsMetadata(error as Error);
    throw error;
  } finally {
    segment?.close();
    if (facade) tracer.setSegment(facade);
  }
}

/**
 * The api's logger: each child (one per request) carries the request's trace id, and the `taskId` a use
 * case appends also becomes an annotation of the invocation's segment, searchable in X-Ray.
 */
export function tracedRequestLog(log: Log): Log {
  return {
    ...forward(log),
    createChild: () => {
      const child = log.createChild();
      child.appendKeys({ traceId: traceIdOf(currentTraceHeader() ?? '') });
      const segment = tracer?.isTracingEnabled() ? tracer.getSegment() : undefined;
      return {
        ...forward(child),
        appendKeys: (keys) => {
          if (typeof keys.taskId === 'string') segment?.addAnnotation('taskId', keys.taskId);
          child.appendKeys(keys);
        },
      };
    },
  };
}

function forward(log: Log): Log {
  return {
    info: (message, ...extra) => log.info(message, ...extra),
    warn: (message, ...extra) => log.warn(message, ...extra),
    error: (message, ...extra) => log.error(message, ...extra),
    appendKeys: (keys) => log.appendKeys(keys),
    createChild: () => log.createChild(),
  };
}
