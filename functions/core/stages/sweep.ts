import type { DepsFor, Settings } from '../deps';
import { failureMessages } from '../errors';
import { notifyMessageSchema, pollMessageSchema } from '../messages';
import type { DeadLetter, SweepEntry } from '../ports';
import { type MoveDeps, moveTask } from '../task/move';
import type { RenditionJob, RenditionSlot, Task } from '../task/task';
import { isFinal } from '../task/transitions';
import { firstPoll } from './poll-schedule';
import { failRendition } from './renditions';

/** What the sweeper uses. */
export type SweepDeps = MoveDeps & DepsFor<'deadLetters' | 'settings'>;

/** What one sweep ended. */
export interface SweepOutcome {
  tasksEnded: number;
  renditionsEnded: number;
  deadLetters: number;
  /** Tasks whose awaited push did not come, now polled. */
  pollsStarted: number;
}

/**
 * A notify message is sent back from its dead-letter queue this many times (a notifier or bus outage
 * outlasting its receives); one failing longer is only logged: the task itself has already moved.
 */
export const NOTIFY_REDRIVES = 3;

/** Open tasks and dead letters handled per sweep; a backlog is taken by the next runs. */
const BATCH = 100;

/**
 * Stage sweep (a schedule, run by the sweeper): the backstop that makes "no task stuck, no credit lost" hold
 * whatever else failed. Every task still unfinished past its deadline (and the grace), and every rendition
 * still processing past its own, is ended as failed through the state machine: refunded once, its client
 * called back. Then the dead-letter queues are drained: each parked message's task is ended the same way if
 * it is still unfinished (its message will never be processed), and the message is deleted once handled.
 */
export async function sweep(
  deps: SweepDeps,
  { limit = BATCH }: { limit?: number } = {},
): Promise<SweepOutcome> {
  const outcome: SweepOutcome = { tasksEnded: 0, renditionsEnded: 0, deadLetters: 0, pollsStarted: 0 };
  for (const entry of await deps.tasks.dueForSweep(sweepTimeOf(deps.settings, deps.now()), limit)) {
    try {
      await sweepTask(deps, entry, outcome);
    } catch (error) {
      // One task's trouble is its own: the next sweep tries it again.
      deps.log.error('sweep of a task failed', { taskId: entry.taskId, error: String(error) });
    }
  }
  for (const letter of await deps.deadLetters.receive(limit)) {
    try {
      await sweepDeadLetter(deps, letter, outcome);
      await deps.deadLetters.remove(letter);
      deps.metrics.count('DeadLettersSwept', {}, { queue: letter.queue });
      outcome.deadLetters += 1;
    } catch (error) {
      deps.log.error('sweep of a dead letter failed', { queue: letter.queue, error: String(error) });
    }
  }
  if (outcome.tasksEnded + outcome.renditionsEnded + outcome.deadLetters + outcome.pollsStarted > 0)
    deps.log.warn('swept', { ...outcome });
  return outcome;
}

/**
 * The sweep time of a look at `at`: the sweeper looks at an entry its grace after the entry's time (a
 * deadline's grace lets an invocation that started before it finish), so a look at a given instant (a push
 * awaited until then) is entered that much earlier.
 */
export function sweepTimeOf(settings: Pick<Settings, 'sweepGraceSeconds'>, at: number): number {
  return at - settings.sweepGraceSeconds * 1000;
}

async function sweepTask(deps: SweepDeps, entry: SweepEntry, outcome: SweepOutcome): Promise<void> {
  const task = await deps.tasks.get(entry.taskId);
  if (!task) return; // expired and removed with its index entry
  if (!isFinal(task.status) && sweepTimeOf(deps.settings, deps.now()) < task.deadlineAt) {
    // Found before its deadline and the grace: a push awaited until now. Not heard (lost, refused, or a
    // generation still running): polled from now on, on the usual schedule. Either way the entry goes back
    // to the deadline (a task submitted again since awaits nothing, and is never ended early).
    if (awaitsPush(task)) {
      deps.log.warn('push not heard; polling', { taskId: task.taskId, upstream: task.upstream });
      deps.metrics.count('PushesNotHeard', { provider: task.provider });
      await deps.queues.poll(firstPoll(deps.settings, task, task.operation, task.updatedAt), 0);
      // After the send (a crash between the two polls twice, never not at all): a push heard later then
      // adds no second chain.
      await deps.tasks.stopAwaitingPush(task.taskId, task.operation);
      outcome.pollsStarted += 1;
    }
    await deps.tasks.resweep(entry, task.deadlineAt);
    return;
  }
  if (!isFinal(task.status)) {
    // Its final move takes it off the index in the same write.
    if (await endTask(deps, task, failureMessages.timedOut(deps.settings.budgetSeconds)))
      outcome.tasksEnded += 1;
    return;
  }
  // A finished task is on the index only while a rendition runs: end those past their deadline, then
  // look again at the earliest deadline left, or take the task off the index.
  const due = deps.now() - deps.settings.sweepGraceSeconds * 1000;
  let next: number | undefined;
  for (const [slot, job] of processing(task)) {
    const deadline = renditionDeadline(deps, job);
    if (deadline > due) {
      next = Math.min(next ?? deadline, deadline);
      continue;
    }
    const reason = failureMessages.renditionTimedOut(deps.settings.renditionBudgetSeconds);
    if (await failRendition(deps, task, slot, reason)) {
      deps.log.warn('rendition ended by the sweeper', { taskId: task.taskId, slot });
      deps.metrics.count('RenditionsSwept');
      outcome.renditionsEnded += 1;
    }
  }
  // Conditional on the entry as read: a rendition started meanwhile moved it, and stays on the index.
  await deps.tasks.resweep(entry, next);
}

async function sweepDeadLetter(deps: SweepDeps, letter: DeadLetter, outcome: SweepOutcome): Promise<void> {
  // Every stage's message names its task (and a rendition job's, its slot); anything else is only logged.
  const named = pollMessageSchema.pick({ taskId: true, rendition: true }).safeParse(parseJson(letter.body));
  deps.log.warn('dead letter swept', {
    queue: letter.queue,
    ...(named.success ? named.data : { body: letter.body.slice(0, 200) }),
  });
  if (!named.success) return;
  // An event, token answer or callback not made: sent again (a few times), never a reason to end the task.
  if (letter.queue === 'notify') return redriveNotify(deps, letter);
  const task = await deps.tasks.get(named.data.taskId);
  if (!task) return;
  const { rendition } = named.data;
  if (letter.queue === 'poll' && rendition) {
    if (task.renditions?.[rendition]?.status !== 'processing') return;
    if (await failRendition(deps, task, rendition, failureMessages.deadLettered))
      outcome.renditionsEnded += 1;
    return;
  }
  if (!isFinal(task.status) && (await endTask(deps, task, failureMessages.deadLettered)))
    outcome.tasksEnded += 1;
}

async function redriveNotify(deps: SweepDeps, letter: DeadLetter): Promise<void> {
  const message = notifyMessageSchema.safeParse(parseJson(letter.body));
  if (!message.success) return;
  const redriven = message.data.redriven ?? 0;
  if (redriven >= NOTIFY_REDRIVES) {
    deps.log.error('notify message dropped after its redrives', { taskId: message.data.taskId, redriven });
    return;
  }
  await deps.queues.notify({ ...message.data, redriven: redriven + 1 });
}

/**
 * Fails an unfinished task (refund and callback by moveTask). Another writer may move it meanwhile
 * (e.g. submitting to submitted): read it again and retry while it is still unfinished.
 */
async function endTask(deps: SweepDeps, task: Task, errorMessage: string): Promise<boolean> {
  let current: Task | undefined = task;
  for (let attempt = 0; attempt < 3 && current && !isFinal(current.status); attempt++) {
    if (await moveTask(deps, current, 'failed', { errorCode: 501, errorMessage })) {
      deps.log.warn('task ended by the sweeper', { taskId: task.taskId, status: current.status });
      deps.metrics.count('TasksSwept');
      return true;
    }
    current = await deps.tasks.get(task.taskId);
  }
  return false;
}

/** A submitted task whose operation's end its upstream was asked to push (no poll is scheduled for it). */
export function awaitsPush(task: Task): task is Task & { operation: string } {
  return (
    task.status === 'submitted' &&
    task.operation !== undefined &&
    task.awaitedPush?.operation === task.operation
  );
}

function processing(task: Task): [RenditionSlot, RenditionJob][] {
  return (Object.entries(task.renditions ?? {}) as [RenditionSlot, RenditionJob | undefined][]).flatMap(
    ([slot, job]) => (job?.status === 'processing' ? [[slot, job] as [RenditionSlot, RenditionJob]] : []),
  );
}

/** A job from before renditions had deadlines gets one from its request time. */
function renditionDeadline(deps: SweepDeps, job: RenditionJob): number {
  return job.deadlineAt ?? job.requestedAt + deps.settings.renditionBudgetSeconds * 1000;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
