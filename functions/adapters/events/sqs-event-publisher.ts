import { randomUUID } from 'node:crypto';
import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { eventEnvelope, type TaskEvent } from '../../core/events';
import type { EventPublisher } from '../../core/ports';

/**
 * Local stand-in for EventBridge: sends each event, in the envelope a rule's target receives, to an SQS
 * queue (fauxqs), as a rule matching `source: veo-serverless` with that queue as its target would. Several
 * events go in one SendMessageBatch, as they go in one PutEvents.
 */
export class SqsEventPublisher implements EventPublisher {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly region = 'us-east-1',
  ) {}

  async publish(...events: TaskEvent[]): Promise<void> {
    const bodies = events.map((event) =>
      JSON.stringify(
        eventEnvelope(event, { id: randomUUID(), account: '000000000000', region: this.region }),
      ),
    );
    if (bodies.length === 1) {
      await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: bodies[0] }));
      return;
    }
    // SendMessageBatch, like PutEvents, takes 10 entries at most.
    for (let start = 0; start < bodies.length; start += 10) {
      const batch = bodies.slice(start, start + 10);
      const answer = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: batch.map((MessageBody, i) => ({ Id: String(i), MessageBody })),
        }),
      );
      const failed = answer.Failed?.[0];
      if (failed) throw new Error(`events queue refused the event: ${failed.Code} ${failed.Message ?? ''}`);
    }
  }
}

/** Events are off: nothing is published (EVENT_BUS_NAME=off). */
export const noEvents: EventPublisher = { publish: async () => {} };
