import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';

/**
 * X-Ray's trace header (`Root=1-<epoch hex>-<24 hex>;Parent=<16 hex>;Sampled=1`), the one thing that ties a
 * task's log lines and segments together across the api, the queues and the stage functions.
 *
 * The header of the invocation (an HTTP request) or the SQS record being handled is kept in an
 * AsyncLocalStorage: locally every function shares one process and handles requests and records
 * concurrently, so neither `process.env._X_AMZN_TRACE_ID` nor a field on a shared client can hold it;
 * the storage follows each one's own async path, and the queues adapter reads it when it sends, so the
 * core passes nothing along.
 */
const current = new AsyncLocalStorage<string>();

/** Runs `fn` with `header` as the trace of everything it does (its messages carry it on). */
export function withTraceHeader<T>(header: string, fn: () => T): T {
  return current.run(header, fn);
}

/** The trace header of the invocation or record being handled, if any. */
export function currentTraceHeader(): string | undefined {
  return current.getStore() ?? lambdaTraceHeader();
}

/** The trace id (the header's Root), the value the log lines carry as `traceId`. */
export function traceIdOf(header: string): string | undefined {
  return /(?:^|;)\s*Root=([^;\s]+)/.exec(header)?.[1];
}

/** A fresh sampled header, as API Gateway or X-Ray would begin a trace. */
export function newTraceHeader(now = Date.now()): string {
  const epoch = Math.floor(now / 1000)
    .toString(16)
    .padStart(8, '0');
  return `Root=1-${epoch}-${randomBytes(12).toString('hex')};Parent=${randomBytes(8).toString('hex')};Sampled=1`;
}

/** `header` if it names a trace, otherwise a new one. */
export function traceHeaderOr(header: string | undefined): string {
  return header !== undefined && traceIdOf(header) !== undefined ? header : newTraceHeader();
}

/**
 * The trace of an HTTP invocation. In Lambda, one invocation at a time per process: its
 * `_X_AMZN_TRACE_ID` is the trace X-Ray records the function's segment in, so the messages follow it.
 * Elsewhere (the local gateway) the request's own `x-amzn-trace-id` header, as API Gateway sends it.
 */
export function httpTraceHeader(headers: Record<string, string | undefined> | undefined): string {
  return traceHeaderOr(lambdaTraceHeader() ?? headers?.['x-amzn-trace-id']);
}

function lambdaTraceHeader(): string | undefined {
  return process.env.AWS_EXECUTION_ENV ? process.env._X_AMZN_TRACE_ID : undefined;
}
