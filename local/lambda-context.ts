import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

export interface LambdaContextOptions {
  functionName: string;
  /** The function's configured timeout; getRemainingTimeInMillis counts down from it. */
  timeoutMs: number;
  region?: string;
  memoryLimitInMB?: number;
}

/**
 * A Lambda `Context` for one local invocation. Handlers (and Powertools) read the request id,
 * the function name and the remaining time from it; nothing here enforces the timeout, because
 * an in-process handler cannot be frozen the way Lambda freezes a sandbox.
 */
export function createLambdaContext(options: LambdaContextOptions): Context {
  const { functionName, timeoutMs, region = 'us-east-1', memoryLimitInMB = 1024 } = options;
  const deadline = Date.now() + timeoutMs;
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  const legacyCallback = () => {
    throw new Error('context.done/fail/succeed are not supported: return a promise from the handler');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${functionName}`,
    memoryLimitInMB: String(memoryLimitInMB),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `${day}/[$LATEST]local`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: legacyCallback,
    fail: legacyCallback,
    succeed: legacyCallback,
  };
}
