import { loadConfig } from './config';
import { createDeps } from './container';
import { createApiHandler } from './http/api-routes';

const deps = createDeps(loadConfig(), 'api');

/** API Gateway (HTTP API, payload 2.0): the kie.ai-compatible public API. */
export const handler = createApiHandler(deps);
