import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { eventSource, type TaskEvent } from '../../core/events';
import type { EventPublisher } from '../../core/ports';

/** Task events on an EventBridge bus (the account's default bus unless a name is configured). */
export class EventBridgeEventPublisher implements EventPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publish(event: TaskEvent): Promise<void> {
    const answer = await this.client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.busName,
            Source: eventSource,
            DetailType: event.detailType,
            Detail: JSON.stringify(event.detail),
            Time: new Date(event.time),
            Resources: [],
          },
        ],
      }),
    );
    // PutEvents answers 200 with per-entry failures (throttling, internal errors): those must be retried.
    const failed = answer.Entries?.find((entry) => entry.ErrorCode);
    if ((answer.FailedEntryCount ?? 0) > 0 || failed) {
      throw new Error(
        `PutEvents refused the event: ${failed?.ErrorCode ?? 'unknown'} ${failed?.ErrorMessage ?? ''}`,
      );
    }
  }
}
