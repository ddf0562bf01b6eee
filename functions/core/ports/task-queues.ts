import type { GenerateMessage, NotifyMessage, PollMessage } from '../messages';

/** The three queues between the stages: generate (worker), poll (poller), notify (notifier). */
export interface TaskQueues {
  generate(message: GenerateMessage, delaySeconds?: number): Promise<void>;
  poll(message: PollMessage, delaySeconds: number): Promise<void>;
  /** A delay over SQS's 15 minutes is cut to 15 minutes (callbacks re-send with `notBefore`). */
  notify(message: NotifyMessage, delaySeconds?: number): Promise<void>;
}
