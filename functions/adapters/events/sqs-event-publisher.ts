import { randomUUID } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { eventEnvelope, type TaskEvent } from '../../core/events';
import type { EventPublisher } from '../../core/ports';

/**
 * Local stand-in for EventBridge: sends each event, in the envelope a rule's target receives, to an SQS
 * queue (fauxqs), as a rule matching `source: veo-serverless` with that queue as its target would.
 */
export class SqsEventPublisher implements EventPublisher {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly region = 'us-east-1',
  ) {}

  async publish(event: TaskEvent): Promise<void> {
    const envelope = eventEnvelope(event, { id: randomUUID(), account: '000000000000', region: this.region });
    await this.sqs.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(envelope) }),
    );
  }
}

/** Events are off: nothing is published (EVENT_BUS_NAME=off). */
export const noEvents: EventPublisher = { publish: async () => {} };
