import type { DepsFor } from '../deps';
import {
  failureMessages,
  InputRejectedError,
  ModelNotFoundError,
  RateLimitedError,
  UpstreamUnavailableError,
} from '../errors';
import type { GenerateMessage } from '../messages';
import { type MoveDeps, moveTask } from '../task/move';
import type { Task } from '../task/task';
import { type UpstreamRequestDeps, upstreamRequest } from '../upstream-request';
import { shapeOf } from './poll-schedule';

/** What the generate stage (the worker) uses. */
export type GenerateDeps = MoveDeps & DepsFor<'provider' | 'settings'> & UpstreamRequestDeps;

/**
 * Stage generate (queue `generate`, run by the worker): prepare the upstream request, take a slot of the
 * upstream's quota, submit, schedule the first poll. Like every stage it reads the task, acts only if the
 * task is in the status it expects, and moves it with moveTask's conditional write, so SQS redelivery is
 * harmless.
 */
export async function startGeneration(deps: GenerateDeps, message: GenerateMessage): Promise<void> {
  const task = await deps.tasks.get(message.taskId);
  if (!task) return;
  if (task.status === 'submitting') {
    // Another copy of this message may be submitting right now (a duplicate delivery): only once the
    // worker's timeout has passed since the intent was written is that copy surely dead. Look again then.
    const leaseEnds = task.updatedAt + deps.settings.workerTimeoutSeconds * 1000;
    if (deps.now() < leaseEnds) {
      await deps.queues.generate(message, Math.ceil((leaseEnds - deps.now()) / 1000) + 1);
      return;
    }
    // A worker died between recording the intent and recording the operation: the upstream may
    // have the task. Submitting again could generate (and bill) twice, so end it and refund.
    await moveTask(deps, task, 'failed', { errorCode: 500, errorMessage: failureMessages.interrupted });
    return;
  }
  if (task.status === 'submitted' && task.operation) {
    // Redelivered because sending the first poll failed (or the worker died just before it): send it
    // again, or nothing would ever poll. A duplicate poll is harmless; the sweeper is the backstop.
    await schedulePoll(deps, task, task.operation, task.updatedAt);
    return;
  }
  if (task.status !== 'queued') return; // already started, finished, or gone: a redelivery

  const attempt = message.attempt ?? 0;
  const retryLater = async (reason: string, delayMs: number) => {
    if (deps.now() + delayMs >= task.deadlineAt) {
      await moveTask(deps, task, 'failed', {
        errorCode: 501,
        errorMessage: failureMessages.upstreamFailed(reason),
      });
      return;
    }
    deps.log.warn('submit postponed', { reason, delayMs, attempt });
    await deps.queues.generate({ taskId: task.taskId, attempt: attempt + 1 }, Math.ceil(delayMs / 1000));
  };

  let prepared: Awaited<ReturnType<typeof upstreamRequest>>;
  try {
    prepared = await upstreamRequest(deps, task);
  } catch (error) {
    if (error instanceof InputRejectedError) {
      await moveTask(deps, task, 'failed', { errorCode: 422, errorMessage: error.message });
      return;
    }
    if (error instanceof UpstreamUnavailableError) return retryLater(error.message, backoffMs(attempt));
    throw error;
  }
  const { request, translatedFrom } = prepared;

  // The intent and a slot of the upstream's quota are written in one transaction, so nothing but the
  // request itself stands between taking the slot and the submit: slow writes cannot bunch submits past
  // the upstream's quota. Bursts wait in the queue for the quota instead of meeting its 429s.
  let claimed: unknown;
  try {
    claimed = await moveTask(deps, task, 'submitting', {}, { slot: deps.settings.upstreamQuota });
  } catch (error) {
    if (!(error instanceof RateLimitedError)) throw error;
    return retryLater('waiting for the upstream quota', error.retryAfterMs);
  }
  if (!claimed) return;
  const submitting = { ...task, status: 'submitting' as const };

  let operation: string;
  try {
    operation = await deps.provider.submit(request);
  } catch (error) {
    if (error instanceof UpstreamUnavailableError) {
      // The upstream did not take it: step back so the retry may submit.
      await moveTask(deps, submitting, 'queued');
      return retryLater(error.message, backoffMs(attempt));
    }
    if (error instanceof ModelNotFoundError)
      deps.log.error('the upstream does not know the configured model', { modelId: error.modelId });
    await moveTask(deps, submitting, 'failed', {
      errorCode: 501,
      errorMessage:
        error instanceof ModelNotFoundError
          ? failureMessages.modelNotFound(error)
          : failureMessages.upstreamFailed(reason(error)),
    });
    return;
  }

  const moved = await moveTask(deps, submitting, 'submitted', {
    operation,
    promptSent: request.prompt,
    translatedFrom,
    aspectRatio: request.aspectRatio,
  });
  if (!moved) return;
  deps.log.info('task submitted upstream', { provider: deps.provider.name, operation });
  await schedulePoll(deps, task, operation, deps.now());
}

/** The first poll of a submitted task. */
function schedulePoll(deps: GenerateDeps, task: Task, operation: string, submittedAt: number) {
  return deps.queues.poll(
    {
      taskId: task.taskId,
      polls: 0,
      operation,
      deadlineAt: task.deadlineAt,
      submittedAt,
      shape: shapeOf(task),
    },
    deps.settings.pollIntervalSeconds,
  );
}

/** Exponential backoff with full jitter: 2 s, 4 s, 8 s … capped at 2 minutes. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(2000 * 2 ** attempt, 120_000);
  return Math.max(1000, Math.round(random() * cap));
}

export function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
