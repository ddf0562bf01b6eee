import type { Deps } from './deps';
import { errors } from './errors';
import type { ApiKey } from './ports';
import { describeIssue, recordInfoQuerySchema } from './schema';
import { isExpired, successFlag, type Task } from './task';

/**
 * GET /veo/record-info: kie.ai's record shape, plus the fields of kie's unified jobs API
 * (state, resultJson, failMsg, creditsConsumed) and ours (aspectRatio, seeds, promptSent, callbacks).
 * Times are epoch milliseconds (numbers), as kie's schema types them.
 */
export async function recordInfo(deps: Deps, key: ApiKey, query: Record<string, string | undefined>) {
  const parsed = recordInfoQuerySchema.safeParse(query);
  // A malformed id cannot name any task: answer exactly as for an unknown one.
  if (!parsed.success) {
    if (query.taskId === undefined || query.taskId.trim() === '') {
      throw errors.validation(describeIssue(parsed.error));
    }
    throw errors.recordNull();
  }
  const task = await deps.tasks.get(parsed.data.taskId);
  // Another key's task answers exactly like an unknown one.
  if (!task || task.keyHash !== key.keyHash) throw errors.recordNull();
  if (isExpired(task, deps.now(), deps.settings.retentionDays)) {
    throw errors.recordExpired(deps.settings.retentionDays);
  }
  const resultUrls = await Promise.all((task.results ?? []).map((r) => deps.videos.url(r.key)));
  return toRecord(task, resultUrls);
}

export function toRecord(task: Task, resultUrls: string[]) {
  const flag = successFlag(task.status);
  const done = flag === 1;
  const failMsg = flag >= 2 ? (task.errorMessage ?? null) : null;
  return {
    taskId: task.taskId,
    paramJson: task.paramJson,
    createTime: task.createdAt,
    completeTime: task.completedAt ?? null,
    successFlag: flag,
    response: done
      ? {
          taskId: task.taskId,
          resultUrls,
          // Without a watermark the delivered video is the original.
          originUrls: resultUrls,
          fullResultUrls: null,
          resolution: task.results?.[0]?.resolution ?? '720p',
        }
      : null,
    errorCode: flag >= 2 ? (task.errorCode ?? 501) : null,
    errorMessage: failMsg,
    fallbackFlag: false,
    state: flag === 0 ? 'waiting' : done ? 'success' : 'fail',
    resultJson: done ? JSON.stringify({ resultUrls }) : null,
    failMsg,
    creditsConsumed: flag === 1 || flag === 0 ? task.credits : 0,
    model: task.request.model,
    generationType: task.request.generationType,
    aspectRatio: task.aspectRatio,
    seeds: task.seeds,
    promptSent: task.promptSent ?? null,
    callbacks: task.callbacks ?? [],
  };
}

export type TaskRecord = ReturnType<typeof toRecord>;
