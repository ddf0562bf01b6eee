import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { apiDeps } from './composition/api';
import { addLambdaContext } from './composition/observability';
import { loadConfig } from './config';
import { createApiHandler } from './http/api-routes';

const deps = apiDeps(loadConfig());
const api = createApiHandler(deps);

/** API Gateway (HTTP API, payload 2.0): the kie.ai-compatible public API. */
export const handler = (event: APIGatewayProxyEventV2, context: Context) => {
  addLambdaContext(deps.log, context);
  return api(event);
};
