import type { DepsFor } from '../deps';
import { errors } from '../errors';
import type { ApiKey } from '../ports';
import { describeIssue, recordInfoQuerySchema } from '../schema';
import { signResults, toRecord } from '../task/record';
import { isExpired } from '../task/task';

/**
 * GET /veo/record-info: kie.ai's record shape, plus the fields of kie's unified jobs API
 * (state, resultJson, failMsg, creditsConsumed) and ours (aspectRatio, seeds, promptSent, callbacks).
 * Times are epoch milliseconds (numbers), as kie's schema types them.
 */
export async function recordInfo(
  deps: DepsFor<'tasks' | 'videos' | 'settings' | 'log' | 'now'>,
  key: ApiKey,
  query: Record<string, string | undefined>,
) {
  const parsed = recordInfoQuerySchema.safeParse(query);
  // A malformed id cannot name any task: answer exactly as for an unknown one.
  if (!parsed.success) {
    if (query.taskId === undefined || query.taskId.trim() === '') {
      throw errors.validation(describeIssue(parsed.error));
    }
    throw errors.recordNull();
  }
  deps.log.appendKeys({ taskId: parsed.data.taskId });
  const task = await deps.tasks.get(parsed.data.taskId);
  // Another key's task answers exactly like an unknown one.
  if (!task || task.keyHash !== key.keyHash) throw errors.recordNull();
  if (isExpired(task, deps.now(), deps.settings.retentionDays)) {
    throw errors.recordExpired(deps.settings.retentionDays);
  }
  return toRecord(task, await signResults(deps, task));
}
