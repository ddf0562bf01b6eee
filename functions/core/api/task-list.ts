import type { Deps, DepsFor } from '../deps';
import { errors } from '../errors';
import type { ApiKey, TaskCursor } from '../ports';
import { describeIssue, taskCursorSchema, tasksQuerySchema } from '../schema';
import { signResults } from '../task/record';
import { successFlag, type Task } from '../task/task';

/**
 * GET /veo/tasks?limit=&cursor= (beyond kie.ai): the caller's tasks within the retention, newest first,
 * as compact records; the full record stays with record-info.
 */
export async function listTasks(
  deps: DepsFor<'tasks' | 'videos' | 'settings' | 'now'>,
  key: ApiKey,
  query: Record<string, string | undefined>,
) {
  const parsed = tasksQuerySchema.safeParse(query);
  if (!parsed.success) throw errors.validation(describeIssue(parsed.error));
  const { limit, cursor } = parsed.data;
  const after = cursor ? decodeCursor(cursor, key.keyHash) : undefined;
  const retentionStart = deps.now() - deps.settings.retentionDays * 86400 * 1000;
  // A cursor at or past the retention has nothing after it (and DynamoDB refuses a start key outside
  // the key condition's range).
  if (after && after.createdAt <= retentionStart) return { tasks: [], nextCursor: null };
  const page = await deps.tasks.listByKey(key.keyHash, limit, after, retentionStart);
  return {
    tasks: await Promise.all(page.tasks.map((task) => compactRecord(deps, task))),
    nextCursor: page.next ? encodeCursor(page.next) : null,
  };
}

/** One line of the listing: enough to pick a task, not its whole history. */
export async function compactRecord(deps: Pick<Deps, 'videos'>, task: Task) {
  const flag = successFlag(task.status);
  return {
    taskId: task.taskId,
    createTime: task.createdAt,
    completeTime: task.completedAt ?? null,
    successFlag: flag,
    state: flag === 0 ? 'waiting' : flag === 1 ? 'success' : 'fail',
    model: task.request.model,
    aspectRatio: task.aspectRatio,
    prompt: task.request.prompt,
    // Signed on every read, and only for finished tasks.
    resultUrls: flag === 1 ? (await signResults(deps, task)).resultUrls : null,
    failMsg: flag >= 2 ? (task.errorMessage ?? null) : null,
  };
}

export type CompactRecord = Awaited<ReturnType<typeof compactRecord>>;

export function encodeCursor(cursor: TaskCursor): string {
  const { taskId, keyHash, createdAt } = cursor;
  return Buffer.from(JSON.stringify({ taskId, keyHash, createdAt })).toString('base64url');
}

/**
 * A cursor is the caller's own to pass back: anything that does not decode to a position in the
 * caller's own listing (bad encoding, wrong shape, another key's) is refused, never queried.
 */
export function decodeCursor(raw: string, keyHash: string): TaskCursor {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw errors.invalidCursor();
  }
  const parsed = taskCursorSchema.safeParse(value);
  if (!parsed.success || parsed.data.keyHash !== keyHash) throw errors.invalidCursor();
  return parsed.data;
}
