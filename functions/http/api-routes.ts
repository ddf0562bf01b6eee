import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import * as z from 'zod';
import { cancelTask } from '../core/api/cancel';
import { creditBalance } from '../core/api/credit';
import { parseIdempotencyKey } from '../core/api/idempotency';
import { recordInfo } from '../core/api/record-info';
import { type RenditionRequestDeps, request4k, request1080p } from '../core/api/renditions';
import { type SubmitDeps, type SubmitOptions, submitExtension, submitTask } from '../core/api/submit';
import { listTasks } from '../core/api/task-list';
import { ApiKeyCache, authenticate, authenticateIam } from '../core/api-keys';
import type { DepsFor } from '../core/deps';
import { errors } from '../core/errors';
import type { ApiKey } from '../core/ports';
import { errorResponse, header, jsonBody, ok } from './envelope';

/** What the api function uses: every route's needs, and the key store for authentication. */
export type ApiDeps = SubmitDeps & RenditionRequestDeps & DepsFor<'apiKeys' | 'videos'>;

type Route = (deps: ApiDeps, key: ApiKey, event: APIGatewayProxyEventV2) => Promise<unknown>;

/** The public API (SPEC §2). GET routes ignore any body or Content-Type a client sends. */
export const routes: Record<string, Route> = {
  'POST /api/v1/veo/generate': (deps, key, event) =>
    submitTask(deps, key, jsonBody(event), submitOptions(event)),
  'GET /api/v1/veo/record-info': (deps, key, event) =>
    recordInfo(deps, key, event.queryStringParameters ?? {}),
  'GET /api/v1/chat/credit': (deps, key) => creditBalance(deps, key),
  'GET /api/v1/veo/get-1080p-video': (deps, key, event) =>
    request1080p(deps, key, event.queryStringParameters ?? {}),
  'POST /api/v1/veo/get-4k-video': (deps, key, event) => request4k(deps, key, jsonBody(event)),
  'POST /api/v1/veo/extend': (deps, key, event) =>
    submitExtension(deps, key, jsonBody(event), submitOptions(event)),
  // Beyond kie.ai.
  'GET /api/v1/veo/tasks': (deps, key, event) => listTasks(deps, key, event.queryStringParameters ?? {}),
  'POST /api/v1/veo/cancel': (deps, key, event) => cancelTask(deps, key, jsonBody(event)),
};

/** The submit headers beyond the body: Idempotency-Key (SPEC §2). */
function submitOptions(event: APIGatewayProxyEventV2): SubmitOptions {
  return { idempotencyKey: parseIdempotencyKey(header(event, 'idempotency-key')) };
}

/**
 * The documents: their modules (the OpenAPI builder, the events' schemas) load on the first request for one
 * (`import()` resolves to the one module after that), a chunk of their own when deployed, so no cold start
 * builds schemas only a document uses (bench/README.md, **init**). The events' schema is rendered once: z.toJSONSchema
 * walks every event schema.
 */
let eventSchemaText: Promise<string> | undefined;
const loadEventSchemaText = () =>
  (eventSchemaText ??= import('../core/event-schema').then((m) => JSON.stringify(m.taskEventJsonSchema())));

const json = (body: string, type = 'application/json') => ({
  statusCode: 200,
  headers: { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'public, max-age=300' },
  body,
});

/** Routes served without an API key, answered as they are (not in the envelope). */
export const publicRoutes: Record<string, (deps: ApiDeps) => Promise<APIGatewayProxyStructuredResultV2>> = {
  // The contract is public, as kie.ai's documentation is.
  'GET /api/v1/openapi.json': async (deps) =>
    json((await import('./openapi')).openApiJson(deps.settings.urlPolicy, deps.settings.providerName)),
  // What this deployment's upstream can do (core/capabilities.ts), for the playground and other clients.
  'GET /api/v1/capabilities.json': async (deps) =>
    json((await import('./openapi')).capabilitiesJson(deps.settings.providerName)),
  // The task events' JSON Schema (EventBridge `detail` and its envelope), from the same zod schemas.
  'GET /api/v1/events.schema.json': async () => json(await loadEventSchemaText(), 'application/schema+json'),
};

const iamContextSchema = z.object({
  authorizer: z.object({ iam: z.object({ userArn: z.string().min(1) }) }),
});

/** The routes under AWS_IAM authorization: `/iam` + every route of `routes`. */
export const IAM_PREFIX = '/iam/';

/** The header standing in for SigV4 on the local stack only (LOCAL_IAM_PRINCIPAL_HEADER). */
export const LOCAL_IAM_PRINCIPAL_HEADER = 'x-local-iam-principal';

/**
 * The caller API Gateway verified: payload 2.0's requestContext.authorizer.iam.userArn. Locally, where
 * nothing verifies a signature, the stand-in header, and only when the local stack turned it on.
 */
function iamPrincipalOf(event: APIGatewayProxyEventV2, settings: ApiDeps['settings']): string | undefined {
  const verified = iamContextSchema.safeParse(event.requestContext);
  if (verified.success) return verified.data.authorizer.iam.userArn;
  return settings.localIamPrincipalHeader ? header(event, LOCAL_IAM_PRINCIPAL_HEADER) : undefined;
}

export function createApiHandler(deps: ApiDeps) {
  const keys = new ApiKeyCache(deps.settings.apiKeyCacheSeconds * 1000, deps.now);
  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const method = event.requestContext.http.method.toUpperCase();
    const path = event.rawPath.length > 1 ? event.rawPath.replace(/\/+$/, '') : event.rawPath;
    // A logger per request: the taskId a use case adds goes with this request only.
    const log = deps.log.createChild();
    try {
      const publicRoute = publicRoutes[`${method} ${path}`];
      if (publicRoute) return await publicRoute(deps);
      // /iam/api/v1/...: the same routes behind API Gateway's AWS_IAM authorization (SigV4).
      const iam = path.startsWith(IAM_PREFIX);
      const route = routes[`${method} ${iam ? path.slice(IAM_PREFIX.length - 1) : path}`];
      if (!route) throw errors.noRoute(method, path);
      const key = iam
        ? await authenticateIam(
            deps.apiKeys,
            iamPrincipalOf(event, deps.settings),
            deps.settings.iamPrincipals ?? {},
            keys,
          )
        : await authenticate(deps.apiKeys, header(event, 'authorization'), keys);
      return ok(await route({ ...deps, log }, key, event));
    } catch (error) {
      return errorResponse(error, log);
    }
  };
}
