import type { TaskEvent } from '../event-schema';

/** Where task events go: EventBridge (adapters/eventbridge), or locally an SQS queue standing in for a rule's target. */
export interface EventPublisher {
  /** Rejects when the event was not accepted, so the notify message is delivered again. */
  publish(event: TaskEvent): Promise<void>;
}
