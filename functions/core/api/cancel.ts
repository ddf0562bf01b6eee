import type { DepsFor } from '../deps';
import { errors, failureMessages } from '../errors';
import type { ApiKey } from '../ports';
import { cancelRequestSchema, describeIssue } from '../schema';
import { type MoveDeps, moveTask } from '../task/move';
import { compactRecord } from './task-list';

/** kie.ai has no cancel; its failure callbacks use 400 for a request the client ended. */
export const CANCELLED_ERROR_CODE = 400;

/**
 * POST /veo/cancel {taskId} (beyond kie.ai): ends a task the upstream has not been given yet
 * (status `queued`) and refunds its credits in the same transaction. The worker acts only on queued
 * tasks, so a generate message that arrives afterwards does nothing.
 */
export async function cancelTask(deps: MoveDeps & DepsFor<'videos'>, key: ApiKey, body: unknown) {
  const parsed = cancelRequestSchema.safeParse(body);
  if (!parsed.success) {
    const taskId = (body as { taskId?: unknown } | null)?.taskId;
    // A malformed id cannot name any task: answer exactly as for an unknown one.
    if (typeof taskId === 'string' && taskId.trim() !== '') throw errors.recordNull();
    throw errors.validation(describeIssue(parsed.error));
  }
  deps.log.appendKeys({ taskId: parsed.data.taskId });
  const task = await deps.tasks.get(parsed.data.taskId);
  // Another key's task answers exactly like an unknown one.
  if (!task || task.keyHash !== key.keyHash) throw errors.recordNull();
  if (task.status !== 'queued') throw errors.notCancellable();

  const patch = { errorCode: CANCELLED_ERROR_CODE, errorMessage: failureMessages.cancelled };
  // Like any other end of a task, moveTask refunds it and queues a failure callback (code 400).
  const cancelled = await moveTask(deps, task, 'cancelled', patch);
  // The worker took it first: the upstream may have it now.
  if (!cancelled) throw errors.notCancellable();
  return compactRecord(deps, cancelled);
}
