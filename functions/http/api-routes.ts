import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { authenticate } from '../core/api-keys';
import type { Deps } from '../core/deps';
import { errors } from '../core/errors';
import type { ApiKey } from '../core/ports';
import { recordInfo } from '../core/record-info';
import { request4k, request1080p } from '../core/renditions';
import { creditBalance, submitExtension, submitTask } from '../core/submit';
import { errorResponse, header, jsonBody, ok } from './envelope';

type Route = (deps: Deps, key: ApiKey, event: APIGatewayProxyEventV2) => Promise<unknown>;

/** The public API (SPEC §2). GET routes ignore any body or Content-Type a client sends. */
const routes: Record<string, Route> = {
  'POST /api/v1/veo/generate': (deps, key, event) => submitTask(deps, key, jsonBody(event)),
  'GET /api/v1/veo/record-info': (deps, key, event) =>
    recordInfo(deps, key, event.queryStringParameters ?? {}),
  'GET /api/v1/chat/credit': (deps, key) => creditBalance(deps, key),
  'GET /api/v1/veo/get-1080p-video': (deps, key, event) =>
    request1080p(deps, key, event.queryStringParameters ?? {}),
  'POST /api/v1/veo/get-4k-video': (deps, key, event) => request4k(deps, key, jsonBody(event)),
  'POST /api/v1/veo/extend': (deps, key, event) => submitExtension(deps, key, jsonBody(event)),
};

export function createApiHandler(deps: Deps) {
  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const method = event.requestContext.http.method.toUpperCase();
    const path = event.rawPath.length > 1 ? event.rawPath.replace(/\/+$/, '') : event.rawPath;
    try {
      const route = routes[`${method} ${path}`];
      if (!route) throw errors.noRoute(method, path);
      const key = await authenticate(deps.apiKeys, header(event, 'authorization'));
      return ok(await route(deps, key, event));
    } catch (error) {
      return errorResponse(error, deps.log);
    }
  };
}
