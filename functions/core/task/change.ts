import * as z from 'zod';
import type { RenditionSlot, Task, TaskStatus } from './task';

/**
 * Task changes: each task state change and each rendition's end, published as an event (core/events.ts
 * builds it) on EventBridge (issue 19).
 * The notify queue is their outbox: the change that makes one queues one NotifyMessage carrying it
 * (`change`), and the notifier publishes it, at least once, beside the client's callback.
 */
export const eventSource = 'veo-serverless';

/** Each change that is published, and its `detail-type`. */
export const taskEventTypes = {
  queued: 'Veo Task Queued',
  submitted: 'Veo Task Submitted',
  succeeded: 'Veo Task Succeeded',
  failed: 'Veo Task Failed',
  rejected: 'Veo Task Rejected',
  cancelled: 'Veo Task Cancelled',
  renditionReady: 'Veo Rendition Ready',
  renditionFailed: 'Veo Rendition Failed',
} as const;
export type TaskChangeType = keyof typeof taskEventTypes;
export type TaskEventDetailType = (typeof taskEventTypes)[TaskChangeType];

const endTypes: ReadonlySet<TaskChangeType> = new Set(['succeeded', 'failed', 'rejected', 'cancelled']);
export const isEndChange = (type: TaskChangeType) => endTypes.has(type);

/**
 * The change a move to `to` publishes, if any. `submitting` is our intent before calling the upstream,
 * and its way back to `queued` (a transient upstream error) is a retry: neither is the client's news.
 */
export function changeOfMove(from: TaskStatus, to: TaskStatus): TaskChangeType | undefined {
  if (to === 'submitting' || (to === 'queued' && from === 'submitting')) return undefined;
  return to in taskEventTypes ? (to as TaskChangeType) : undefined;
}

/** A change as the notify message carries it: the task as the change wrote it. */
export interface TaskChange {
  type: TaskChangeType;
  /** Epoch ms of the change. */
  at: number;
  /** The task as written by the change (the notifier builds the detail from it, not from a later read). */
  task: Task;
  /** For rendition changes: which one. */
  rendition?: RenditionSlot;
}

export const taskChangeSchema = z.object({
  type: z.enum(Object.keys(taskEventTypes) as [TaskChangeType, ...TaskChangeType[]]),
  at: z.number().int().nonnegative(),
  task: z.custom<Task>((v) => typeof v === 'object' && v !== null && typeof (v as Task).taskId === 'string'),
  rendition: z.custom<RenditionSlot>((v) => typeof v === 'string' && /^(1080p|4k)_\d+$/.test(v)).optional(),
});
