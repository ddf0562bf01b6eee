import * as z from 'zod';
import type { DepsFor } from '../deps';

/** What the push stage (the upstream-callback function) uses. */
export type PushDeps = DepsFor<'provider' | 'upstreamProviders' | 'queues' | 'log'>;

/** The one field of a push the stage reads: kie's callback body names its own task as `data.taskId`. */
const pushBodySchema = z.object({ data: z.object({ taskId: z.string().min(1).max(200) }) });

/** The upstream operation a push body names, or undefined when it names none. */
export function pushedOperation(body: unknown): string | undefined {
  const parsed = pushBodySchema.safeParse(body);
  return parsed.success ? parsed.data.data.taskId : undefined;
}

/**
 * The task a push is about: the one our URL names (`taskId`: kie.ai's callbacks, the Gemini API's
 * webhooks), else the one a provider reads in the body (Vertex AI's: a video written in the task's folder).
 */
export function pushedTask(deps: PushDeps, urlTaskId: string | undefined, body: unknown): string | undefined {
  if (urlTaskId !== undefined) return urlTaskId;
  for (const provider of providersOf(deps)) {
    const taskId = provider.pushedTask?.(body);
    if (taskId !== undefined) return taskId;
  }
  return undefined;
}

/**
 * Stage push: an upstream tells us a task finished: kie.ai's callback, the Gemini API's webhook event
 * `video.generated`, which names no operation we know (our URL names the task) and is verified on its
 * headers, or Vertex AI's bucket notification, verified by its Pub/Sub token. Verified by the provider's
 * signature, then only a hint to poll now: the poll reads the task and asks the upstream about the task's
 * own operation, so the push's body is never trusted for a result. No read here: a push then costs one SendMessage, what a poll that finds the video
 * running costs (issue 17). An authentic push naming another of our tasks only makes that task poll early.
 */
export async function acceptPush(
  deps: PushDeps,
  taskId: string,
  operation: string | undefined,
  headers: Record<string, string | undefined>,
): Promise<boolean> {
  if (!(await verifiedByAny(deps, operation ?? '', headers))) {
    deps.log.warn('upstream push refused');
    return false;
  }
  await deps.queues.poll({ taskId, pushed: true }, 0);
  return true;
}

/**
 * Whether any upstream of the pool that signs pushes (each kie account has its own webhook secret; a
 * Gemini API upstream with webhooks verifies Google's key set, a Vertex AI one its subscription's token)
 * signed this one. Not read from the task (no DynamoDB call per push): an authentic push of another
 * account only makes the task it names poll early, and the poll asks the task's own pinned upstream.
 */
async function verifiedByAny(
  deps: PushDeps,
  operation: string,
  headers: Record<string, string | undefined>,
): Promise<boolean> {
  for (const provider of providersOf(deps)) {
    if (await provider.verifyPush?.(operation, headers)) return true;
  }
  return false;
}

/** Every provider of the pool, once. */
function providersOf(deps: PushDeps) {
  return new Set([deps.provider, ...Object.values(deps.upstreamProviders ?? {})]);
}
