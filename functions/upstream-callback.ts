// First: it settles what libraries read as they load (zod’s JIT).
import './composition/preload';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { httpTraceHeader, traceIdOf, withTraceHeader } from './adapters/observability/trace-header';
import { addLambdaContext, traceInvocation } from './composition/observability';
import { upstreamCallbackDeps } from './composition/upstream-callback';
import { loadConfig } from './config';
import { acceptPush, pushedOperation, pushedTask } from './core/stages/push';
import { taskIdSchema } from './core/task-id';
import { envelope, errorResponse, jsonBody } from './http/envelope';

const deps = upstreamCallbackDeps(loadConfig());

/**
 * POST /internal/upstream-callback: an upstream says a task finished, naming it in our URL (`?taskId=`:
 * kie.ai, the Gemini API) or in its body (Vertex AI's bucket notification).
 */
export const handler = (event: APIGatewayProxyEventV2, context: Context) => {
  addLambdaContext(deps.log, context);
  const trace = httpTraceHeader(event.headers);
  return traceInvocation((segment) =>
    withTraceHeader(trace, async () => {
      const log = deps.log.createChild();
      log.appendKeys({ traceId: traceIdOf(trace) });
      try {
        const body = parsedBody(event);
        const taskId = taskIdSchema.safeParse(pushedTask(deps, event.queryStringParameters?.taskId, body));
        if (!taskId.success) return envelope(200, 'success', { accepted: false });
        log.appendKeys({ taskId: taskId.data });
        segment?.addAnnotation('taskId', taskId.data);
        const operation = pushedOperation(body);
        const accepted = await acceptPush({ ...deps, log }, taskId.data, operation, event.headers ?? {});
        return envelope(200, 'success', { accepted });
      } catch (error) {
        return errorResponse(error, log);
      }
    }),
  );
};

/** The push's JSON body, or undefined: an unreadable push is refused like an unsigned one. */
function parsedBody(event: APIGatewayProxyEventV2): unknown {
  try {
    return jsonBody(event);
  } catch {
    return undefined;
  }
}
