import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { upstreamCallbackDeps } from './composition/upstream-callback';
import { loadConfig } from './config';
import { taskIdSchema } from './core/schema';
import { acceptPush } from './core/stages/push';
import { envelope, errorResponse } from './http/envelope';

const deps = upstreamCallbackDeps(loadConfig());

/** POST /internal/upstream-callback?taskId=: an upstream (kie.ai) says a task finished. */
export const handler = async (event: APIGatewayProxyEventV2) => {
  try {
    const taskId = taskIdSchema.safeParse(event.queryStringParameters?.taskId);
    const accepted = taskId.success && (await acceptPush(deps, taskId.data, event.headers ?? {}));
    return envelope(200, 'success', { accepted });
  } catch (error) {
    return errorResponse(error, deps.log);
  }
};
