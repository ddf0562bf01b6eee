import type { DepsFor } from '../deps';
import { IllegalTransitionError } from '../errors';
import { publishChanges } from '../events';
import type { TaskQueues } from '../ports';
import type { RateWindow } from '../rate-window';
import { changeOfMove, isEndChange, type TaskChange } from './change';
import type { Task, TaskStatus } from './task';
import { canTransition, isFinal } from './transitions';

/** What moving a task uses: the store, the notify queue, and the logs and metrics of its end. */
export type MoveDeps = DepsFor<'tasks' | 'queues' | 'log' | 'metrics' | 'now'>;

/** The fields a move may set besides the status and its timestamps. */
export type MovePatch = Partial<Omit<Task, 'taskId' | 'keyHash' | 'status' | 'updatedAt' | 'completedAt'>>;

/** Ends that give the task's credits back: no video, no charge. */
const refunded: ReadonlySet<TaskStatus> = new Set(['failed', 'rejected', 'cancelled']);

/**
 * Moves `task` from the status it was read in to `to`: the one way a task changes status.
 *
 * Throws IllegalTransitionError for a move the state machine does not allow (transitions.ts). Writes
 * conditionally on the read status, with `updatedAt` (and `completedAt` for an end), the refund of a
 * failed, rejected or cancelled task in the same transaction, and with `slot` one slot of that rate
 * window (RateLimitedError when none is free, nothing written; `granted` hears when the slot is), and
 * with `sweepAt` the open task's new sweep time (TaskStore.dueForSweep). Returns undefined when another
 * writer moved the task first; otherwise the task as written, after the move's side effects: an end is
 * logged and counted, and its client callback is queued when the task has a callBackUrl.
 */
export async function moveTask(
  deps: MoveDeps,
  task: Task,
  to: TaskStatus,
  patch: MovePatch = {},
  {
    slot,
    granted,
    sweepAt,
  }: { slot?: RateWindow; granted?: (slotAt: number) => void; sweepAt?: number } = {},
): Promise<Task | undefined> {
  if (!canTransition(task.status, to)) throw new IllegalTransitionError(task.status, to);
  const now = deps.now();
  const ends = isFinal(to);
  const change = { ...patch, status: to, updatedAt: now, ...(ends && { completedAt: now }) };
  const refund = refunded.has(to) ? { keyHash: task.keyHash, credits: task.credits } : undefined;
  const written = await deps.tasks.transition(task.taskId, task.status, change, { refund, slot, sweepAt });
  if (!written) return undefined;
  if (typeof written === 'object') granted?.(written.slotAt);
  const moved: Task = { ...task, ...change };
  if (!ends) {
    await publishChange(deps, task.status, moved);
    return moved;
  }
  recordEnd(deps, task, to, patch, now);
  await notifyEnd(deps, moved);
  return moved;
}

/** The logs and metrics of a task's end. */
function recordEnd(deps: MoveDeps, task: Task, to: TaskStatus, patch: MovePatch, now: number): void {
  const dimensions = { model: task.request.model, provider: task.provider };
  switch (to) {
    case 'succeeded':
      deps.log.info('task succeeded', { videos: patch.results?.length ?? 0, ms: now - task.createdAt });
      deps.metrics.count('TasksSucceeded', dimensions);
      deps.metrics.milliseconds('UpstreamLatency', now - task.createdAt, { provider: task.provider });
      return;
    case 'cancelled':
      deps.log.info('task cancelled', { refunded: task.credits });
      return;
    default:
      deps.log.warn(`task ${to}`, { errorCode: patch.errorCode, errorMessage: patch.errorMessage });
      // A rejection is the prompt or image refused by the upstream's policy: the client's doing, not an outage.
      deps.metrics.count(to === 'failed' ? 'TasksFailed' : 'TasksRejected', dimensions);
  }
}

/**
 * Queues the one notify message of the task's end (the outbox): its event, its Step Functions answer and
 * the client's callback (when it has a callBackUrl). Also used by the poll stage when a redelivered message
 * finds a task that ended without its notify message going out.
 */
export async function notifyEnd(deps: DepsFor<'queues'>, task: Task): Promise<void> {
  const type = changeOfMove(task.status, task.status);
  await deps.queues.notify({
    taskId: task.taskId,
    keyHash: task.keyHash,
    event: 'generation',
    ...(type && { change: { type, at: task.completedAt ?? task.updatedAt, task } }),
  });
}

/**
 * Queues the event of a change that is not an end (queued, submitted). Never fails the move: the task
 * goes on without its event when the notify queue refuses it, and that is logged and counted.
 */
export async function publishChange(
  deps: DepsFor<'queues' | 'log' | 'metrics'>,
  from: Task['status'],
  task: Task,
): Promise<void> {
  const type = changeOfMove(from, task.status);
  if (type) await queueChange(deps, { type, at: task.updatedAt, task });
}

/** Queues the notify message of a change with no callback; a refusal is logged and counted, never thrown. */
async function queueChange(deps: DepsFor<'queues' | 'log' | 'metrics'>, change: TaskChange): Promise<void> {
  try {
    await deps.queues.notify({
      taskId: change.task.taskId,
      keyHash: change.task.keyHash,
      event: 'generation',
      change,
    });
  } catch (error) {
    deps.log.error('task event not queued', {
      type: change.type,
      error: error instanceof Error ? error.message : String(error),
    });
    deps.metrics.count('EventsNotQueued', {});
  }
}

/**
 * A stage's dependencies where the stage holds the event bus (the worker): a change with no callback
 * (queued, submitted, with what it carries) is published at once instead of going through the notify
 * queue to the notifier, whose only work it was: a message, a notifier invocation and a call fewer per task
 * (issue 17). The notify queue stays the way when the publish fails; an end always goes there (its
 * callback and Step Functions answer). Without `events`, the stage's own dependencies.
 */
export function publishingAtOnce<D extends DepsFor<'queues' | 'log'> & Partial<DepsFor<'events' | 'videos'>>>(
  deps: D,
): D {
  const { queues, events, videos, log } = deps;
  if (!events || !videos) return deps;
  const publishing: TaskQueues = {
    generate: (message, delaySeconds) => queues.generate(message, delaySeconds),
    reserved: (message, delaySeconds) => queues.reserved(message, delaySeconds),
    poll: (message, delaySeconds) => queues.poll(message, delaySeconds),
    notify: async (message, delaySeconds) => {
      const { change } = message;
      if (change && !isEndChange(change.type) && !change.rendition && !delaySeconds) {
        const changes = [...(message.earlier ?? []), change];
        try {
          await publishChanges({ events, videos, log }, changes);
          return;
        } catch (error) {
          log.warn('task event not published; the notifier will', {
            error: error instanceof Error ? error.message : String(error),
          });
        }
      }
      await queues.notify(message, delaySeconds);
    },
  };
  return { ...deps, queues: publishing };
}

/**
 * Runs a stage holding back a change not yet published: the submit's `queued`, which the generate message
 * carries instead of a notify message of its own. The first notify message the stage sends with a change
 * of that task carries it too (`earlier`): one message and one publish for both (issue 17: 2 calls fewer
 * per task, and a submit sends one message). A stage that sends none queues it alone when it ends, as
 * publishChange would, also when it throws (the redelivered message carries it again: at least once).
 * On a `firstDelivery`, the stage's first read of the task is the change's copy (withTaskKnown).
 */
export async function carryingChange<D extends DepsFor<'tasks' | 'queues' | 'log' | 'metrics'>>(
  deps: D,
  held: TaskChange | undefined,
  stage: (deps: D) => Promise<void>,
  { firstDelivery = false }: { firstDelivery?: boolean } = {},
): Promise<void> {
  if (!held) return stage(deps);
  if (firstDelivery) deps = withTaskKnown(deps, held.task);
  const { queues } = deps;
  let carried = false;
  const carrying: TaskQueues = {
    // A generate message the stage sends back no longer holds it: it goes out once, from here.
    generate: ({ change: _held, ...message }, delaySeconds) => queues.generate(message, delaySeconds),
    reserved: ({ change: _held, ...message }, delaySeconds) => queues.reserved(message, delaySeconds),
    poll: (message, delaySeconds) => queues.poll(message, delaySeconds),
    notify: async (message, delaySeconds) => {
      if (carried || !message.change || message.taskId !== held.task.taskId) {
        return queues.notify(message, delaySeconds);
      }
      await queues.notify({ ...message, earlier: [held, ...(message.earlier ?? [])] }, delaySeconds);
      carried = true;
    },
  };
  try {
    await stage({ ...deps, queues: carrying });
  } finally {
    // Thrown too: this may be the message's last delivery before its dead-letter queue, and an event sent
    // twice (the redelivery carries it again) beats one lost.
    if (!carried) await queueChange(deps, held);
  }
}

/**
 * The task store with one task known as a message carries it (the submit's, on the first delivery of its
 * generate message): the first read of that task returns it without a call (issue 17: a GetItem fewer per
 * task). As safe as a read: a queued task changes only by a move, and every move is conditional on the
 * status it was read in, so a task moved meanwhile (cancelled) fails the move as after any stale read. A
 * redelivery must read: it may follow a crash halfway through the stage.
 */
export function withTaskKnown<D extends DepsFor<'tasks'>>(deps: D, task: Task): D {
  let known: Task | undefined = task;
  // Every other method is the store's own, bound to it.
  const tasks = new Proxy(deps.tasks, {
    get(store, property) {
      if (property === 'get') {
        return (taskId: string) => {
          if (known?.taskId !== taskId) return store.get(taskId);
          const carried = known;
          known = undefined;
          return Promise.resolve(carried);
        };
      }
      const value: unknown = Reflect.get(store, property, store);
      return typeof value === 'function' ? value.bind(store) : value;
    },
  });
  return { ...deps, tasks };
}
