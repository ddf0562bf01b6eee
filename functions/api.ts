// First: it settles what libraries read as they load (zod’s JIT).
import './composition/preload';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { httpTraceHeader, withTraceHeader } from './adapters/observability/trace-header';
import { apiDeps } from './composition/api';
import { addLambdaContext, tracedRequestLog, traceInvocation } from './composition/observability';
import { loadConfig } from './config';
import { createApiHandler } from './http/api-routes';

const deps = apiDeps(loadConfig());
const api = createApiHandler({ ...deps, log: tracedRequestLog(deps.log) });

/** API Gateway (HTTP API, payload 2.0): the kie.ai-compatible public API. */
export const handler = (event: APIGatewayProxyEventV2, context: Context) => {
  addLambdaContext(deps.log, context);
  // The request's trace goes with its log lines and with every message it sends.
  const trace = httpTraceHeader(event.headers);
  return traceInvocation(() => withTraceHeader(trace, () => api(event)));
};
