import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { loadConfig } from './config';
import { createDeps } from './container';
import { acceptUpstreamPush } from './core/pipeline';
import { taskIdSchema } from './core/schema';
import { envelope, errorResponse } from './http/envelope';

const deps = createDeps(loadConfig(), 'upstream-callback');

/**
 * POST /internal/upstream-callback?taskId=: an upstream (kie.ai) says a task finished. The push is only
 * a hint: the poller asks the upstream itself, so a forged push can do no more than cause one early poll.
 */
export const handler = async (event: APIGatewayProxyEventV2) => {
  try {
    const taskId = taskIdSchema.safeParse(event.queryStringParameters?.taskId);
    const accepted = taskId.success && (await acceptUpstreamPush(deps, taskId.data));
    return envelope(200, 'success', { accepted });
  } catch (error) {
    return errorResponse(error, deps.log);
  }
};
