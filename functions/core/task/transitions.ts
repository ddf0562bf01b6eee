import type { TaskStatus } from './task';

/**
 * The task state machine. Every change is a conditional write on the expected current status, made by
 * moveTask (move.ts), the only caller of TaskStore.transition; so a redelivered SQS message can never
 * submit twice, charge twice or overwrite a result.
 *
 *   queued ──worker──> submitting ──> submitted ──poller──> succeeded
 *      │    <─(transient)─┘  │              │
 *      └─────────────────────┴──────┬───────┘
 *                                   v
 *                            failed | rejected   (rejected: the upstream's content filter refused it)
 *
 *   queued ──client (POST /veo/cancel)──> cancelled   (only before the upstream has it; refunded)
 *
 * `submitting` is the intent recorded before calling the upstream: a redelivered message that finds it
 * cannot know whether the upstream got the task, so it fails the task (refunded) rather than risk a
 * second generation.
 */
export const transitions: Record<TaskStatus, readonly TaskStatus[]> = {
  queued: ['submitting', 'failed', 'rejected', 'cancelled'],
  submitting: ['submitted', 'queued', 'failed', 'rejected'],
  // Back to queued only when the pool moves a generation its upstream failed (FAILOVER_MID_GENERATION).
  submitted: ['succeeded', 'failed', 'rejected', 'queued'],
  succeeded: [],
  failed: [],
  rejected: [],
  cancelled: [],
};

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return transitions[from].includes(to);
}

export function isFinal(status: TaskStatus): boolean {
  return transitions[status].length === 0;
}
