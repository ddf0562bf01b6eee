import type { DepsFor } from '../deps';
import { pinnedUpstream, providerOf } from '../pool';

/** What the push stage (the upstream-callback function) uses. */
export type PushDeps = DepsFor<'tasks' | 'provider' | 'upstreamProviders' | 'queues' | 'log'>;

/**
 * Stage push: an upstream (kie.ai) tells us a task finished. Verified with the provider's signature, then
 * only a hint to poll now; the poll stage asks the upstream itself, so the push's body is never trusted.
 */
export async function acceptPush(
  deps: PushDeps,
  taskId: string,
  headers: Record<string, string | undefined>,
): Promise<boolean> {
  const task = await deps.tasks.get(taskId);
  if (task?.status !== 'submitted' || !task.operation) return false;
  // Verified with the webhook secret of the upstream (kie account) the task is pinned to.
  const provider = providerOf(deps, pinnedUpstream(task));
  if (!(await provider.verifyPush?.(task.operation, headers))) {
    deps.log.warn('upstream push refused');
    return false;
  }
  await deps.queues.poll({ taskId }, 0);
  return true;
}
