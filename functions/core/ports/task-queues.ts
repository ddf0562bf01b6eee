import type { GenerateMessage, NotifyMessage, PollMessage } from '../messages';

/**
 * The queues between the stages: generate (worker), reserved (worker: a task holding a slot of the upstream's
 * quota, delivered just before it), poll (poller), notify (notifier).
 */
export interface TaskQueues {
  generate(message: GenerateMessage, delaySeconds?: number): Promise<void>;
  reserved(
    message: GenerateMessage & Required<Pick<GenerateMessage, 'slot'>>,
    delaySeconds: number,
  ): Promise<void>;
  poll(message: PollMessage, delaySeconds: number): Promise<void>;
  /** A delay over SQS's 15 minutes is cut to 15 minutes (callbacks re-send with `notBefore`). */
  notify(message: NotifyMessage, delaySeconds?: number): Promise<void>;
}
