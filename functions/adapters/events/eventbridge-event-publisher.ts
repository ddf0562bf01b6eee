import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { eventSource, type TaskEvent } from '../../core/events';
import type { EventPublisher } from '../../core/ports';

/** PutEvents takes at most 10 entries per request. */
const maxEntries = 10;

/** Task events on an EventBridge bus (the account's default bus unless a name is configured). */
export class EventBridgeEventPublisher implements EventPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publish(...events: TaskEvent[]): Promise<void> {
    for (let start = 0; start < events.length; start += maxEntries) {
      await this.put(events.slice(start, start + maxEntries));
    }
  }

  private async put(events: TaskEvent[]): Promise<void> {
    const answer = await this.client.send(
      new PutEventsCommand({
        Entries: events.map((event) => ({
          EventBusName: this.busName,
          Source: eventSource,
          DetailType: event.detailType,
          Detail: JSON.stringify(event.detail),
          Time: new Date(event.time),
          Resources: [],
        })),
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
