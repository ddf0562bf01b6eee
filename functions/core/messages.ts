import * as z from 'zod';
import { taskChangeSchema } from './task/change';
import type { RenditionSlot } from './task/task';

/**
 * The stages' SQS messages: one per queue (generate and reserved, poll, notify). Each consumer parses its
 * queue's messages with these schemas, so every field the producer sets reaches the consumer (and a
 * malformed message fails, ending in the DLQ).
 */
const taskId = z.string().min(1);
const count = z.number().int().nonnegative();
const renditionSlot = z.custom<RenditionSlot>((v) => typeof v === 'string' && /^(1080p|4k)_\d+$/.test(v));

export const generateMessageSchema = z.object({
  taskId,
  /** Earlier submit attempts that met a transient upstream error (drives the backoff). */
  attempt: count.optional(),
  /** Upstreams of the pool that refused this task outright (a 4xx): not tried again for it. */
  refusedBy: z.array(z.string().min(1)).optional(),
  /**
   * The submit's `queued` change, not yet published: the worker sends it with the first change it makes to
   * the task, in one notify message (core/task/move.ts carryingChange). Only on the submit's message.
   */
  change: taskChangeSchema.optional(),
  /**
   * A slot of an upstream's quota reserved for this task (core/rate-window.ts nextGrant): the window's
   * scope and the slot's epoch ms. The message is delayed to arrive just before it.
   */
  slot: z.object({ scope: z.string().min(1), at: count }).optional(),
});

export const pollMessageSchema = z.object({
  taskId,
  /** Polls already made. */
  polls: count.optional(),
  /** Set when the message asks for a rendition (e.g. `1080p_0`) of a finished task instead of a poll. */
  rendition: renditionSlot.optional(),
  /**
   * The upstream operation and the task's deadline, as the worker recorded them: with both, a poll that
   * finds the generation still running needs nothing from the store. Absent on pushes and older messages.
   */
  operation: z.string().min(1).optional(),
  deadlineAt: count.optional(),
  /** Epoch ms the upstream accepted the generation (paces the polls); absent on pushes and older messages. */
  submittedAt: count.optional(),
  /** The pool's upstream the task is pinned to (core/pool.ts): asked without reading the task. */
  upstream: z.string().min(1).optional(),
  /** The task's model/resolution (core/stages/poll-schedule.ts): paces the polls by observed times. */
  shape: z.string().max(64).optional(),
  /**
   * Set on a push's poll: finding the generation still running, it polls on only if it takes the push the
   * task awaits off it (otherwise the sweeper's push check, or an earlier push, already polls it).
   */
  pushed: z.literal(true).optional(),
});

/** How the queue delivered a message: a redelivery follows a failed or timed-out attempt (or a duplicate). */
export interface Delivery {
  redelivered: boolean;
}

export type GenerateMessage = z.infer<typeof generateMessageSchema>;
export type PollMessage = z.infer<typeof pollMessageSchema>;

/** What a client callback tells: a generation's end, or a 4K rendition's; each event builds its own body. */
export const callbackEvents = ['generation', '4k'] as const;
export type CallbackEvent = (typeof callbackEvents)[number];

/** One delivery attempt of one callback; a failed attempt sends the next message of its retry chain. */
export const notifyMessageSchema = z.object({
  taskId,
  /** Absent on messages sent before the field existed: those were all generation callbacks. */
  event: z.enum(callbackEvents).default('generation'),
  /** Delivery attempts of this callback already made (0 for the first message). */
  attempt: count.optional(),
  /** Names the one message allowed to continue the chain (see core/stages/notify.ts); absent on the first. */
  token: z.string().min(1).optional(),
  /** Epoch ms before which the attempt is not made: SQS delays up to 15 minutes, longer waits re-send. */
  notBefore: count.optional(),
  /** For '4k': which rendition (e.g. `4k_0`). */
  rendition: renditionSlot.optional(),
  /**
   * The task's owner, so the notifier reads the task and the key (its webhook secret) in one round trip;
   * absent on older messages, which read the task first.
   */
  keyHash: z.string().min(1).optional(),
  /**
   * The task change this message is the outbox of (core/task/change.ts): published as an event, and for an
   * end the Step Functions task token is answered. Absent on callback retries and older messages.
   */
  change: taskChangeSchema.optional(),
  /** Changes made before `change` and not yet published (the submit's `queued`): published with it, first. */
  earlier: z.array(taskChangeSchema).max(9).optional(),
  /** How many times the sweeper has sent this message back from the notify dead-letter queue. */
  redriven: count.optional(),
});

export type NotifyMessage = z.infer<typeof notifyMessageSchema>;
