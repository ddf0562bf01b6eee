import { randomUUID } from 'node:crypto';
import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { eventEnvelope, type TaskEvent } from '../../core/events';
import type { EventPublisher } from '../../core/ports';
import { batchesOf, type EventBatchSink, putBatches } from './coalescing-event-publisher';

/**
 * Local stand-in for EventBridge: sends each event, in the envelope a rule's target receives, to an SQS
 * queue (fauxqs), as a rule matching `source: veo-serverless` with that queue as its target would. Several
 * events go in one SendMessageBatch (10 and 256 KB at most), as they go in one PutEvents.
 */
export class SqsEventPublisher implements EventPublisher, EventBatchSink {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly region = 'us-east-1',
  ) {}

  async publish(...events: TaskEvent[]): Promise<void> {
    const refused = (await this.putEach(events)).find((outcome) => outcome !== undefined);
    if (refused) throw refused;
  }

  async putEach(events: TaskEvent[]): Promise<(Error | undefined)[]> {
    const bodies = events.map((event) =>
      JSON.stringify(
        eventEnvelope(event, { id: randomUUID(), account: '000000000000', region: this.region }),
      ),
    );
    if (bodies.length === 1) {
      await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: bodies[0] }));
      return [undefined];
    }
    return putBatches(
      batchesOf(bodies, (body) => Buffer.byteLength(body)),
      async (batch) => {
        const answer = await this.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: batch.map((MessageBody, i) => ({ Id: String(i), MessageBody })),
          }),
        );
        const failed = new Map((answer.Failed ?? []).map((f) => [f.Id, f]));
        return batch.map((_, i) => {
          const f = failed.get(String(i));
          return f ? new Error(`events queue refused the event: ${f.Code} ${f.Message ?? ''}`) : undefined;
        });
      },
    );
  }
}

/** Events are off: nothing is published (EVENT_BUS_NAME=off). */
export const noEvents: EventPublisher = { publish: async () => {} };
