import type { TaskEvent } from '../event-schema';

/** Where task events go: EventBridge (adapters/eventbridge), or locally an SQS queue standing in for a rule's target. */
export interface EventPublisher {
  /**
   * Publishes the events in one request where they fit (EventBridge takes 10 per PutEvents), in order.
   * Rejects when any was not accepted, so the notify message is delivered again (with all of them).
   */
  publish(...events: TaskEvent[]): Promise<void>;
}
