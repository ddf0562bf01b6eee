import { apiDeps } from './composition/api';
import { loadConfig } from './config';
import { createApiHandler } from './http/api-routes';

const deps = apiDeps(loadConfig());

/** API Gateway (HTTP API, payload 2.0): the kie.ai-compatible public API. */
export const handler = createApiHandler(deps);
