import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { eventSource, type TaskEvent } from '../../core/events';
import type { EventPublisher } from '../../core/ports';
import { batchesOf, type EventBatchSink, putBatches } from './coalescing-event-publisher';

/** Task events on an EventBridge bus (the account's default bus unless a name is configured). */
export class EventBridgeEventPublisher implements EventPublisher, EventBatchSink {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publish(...events: TaskEvent[]): Promise<void> {
    const refused = (await this.putEach(events)).find((outcome) => outcome !== undefined);
    if (refused) throw refused;
  }

  async putEach(events: TaskEvent[]): Promise<(Error | undefined)[]> {
    return putBatches(batchesOf(events, entrySize), (batch) => this.put(batch));
  }

  private async put(events: TaskEvent[]): Promise<(Error | undefined)[]> {
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
    // PutEvents answers 200 with per-entry failures (throttling, internal errors), in the entries' order:
    // those must be retried. A count of failures without their entries fails them all.
    const entries = answer.Entries ?? [];
    const unexplained = (answer.FailedEntryCount ?? 0) > 0 && !entries.some((entry) => entry.ErrorCode);
    return events.map((_, i) => {
      const entry = entries[i];
      if (entry?.ErrorCode || unexplained) {
        return new Error(
          `PutEvents refused the event: ${entry?.ErrorCode ?? 'unknown'} ${entry?.ErrorMessage ?? ''}`,
        );
      }
      return undefined;
    });
  }
}

/** An entry's size as PutEvents counts it: Time 14 bytes, then Source, DetailType and Detail in UTF-8. */
function entrySize(event: TaskEvent): number {
  return (
    14 +
    Buffer.byteLength(eventSource) +
    Buffer.byteLength(event.detailType) +
    Buffer.byteLength(JSON.stringify(event.detail))
  );
}
