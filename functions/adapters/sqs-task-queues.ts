import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { GenerateMessage, NotifyMessage, PollMessage } from '../core/messages';
import type { TaskQueues } from '../core/ports';
import { currentTraceHeader } from './observability/trace-header';

export interface QueueUrls {
  generate: string;
  reserved: string;
  poll: string;
  notify: string;
}

/** The name of the system attribute (and, on an emulator, of the message attribute) carrying the trace. */
export const traceAttribute = 'AWSTraceHeader';

/**
 * The stages' SQS queues; message bodies are the small JSON messages of core/messages.ts. Each message
 * carries the trace of the request or record that sent it (AWSTraceHeader), so the consumer continues it.
 */
export class SqsTaskQueues implements TaskQueues {
  constructor(
    private readonly sqs: SQSClient,
    private readonly urls: QueueUrls,
    /**
     * Also carry the trace in a message attribute: the local emulator (fauxqs) drops message system
     * attributes, and the local event source turns this one back into the record's attribute.
     */
    private readonly traceAsMessageAttribute = false,
  ) {}

  generate(message: GenerateMessage, delaySeconds = 0): Promise<void> {
    return this.send(this.urls.generate, message, delaySeconds);
  }

  reserved(message: GenerateMessage, delaySeconds: number): Promise<void> {
    return this.send(this.urls.reserved, message, delaySeconds);
  }

  poll(message: PollMessage, delaySeconds: number): Promise<void> {
    return this.send(this.urls.poll, message, delaySeconds);
  }

  notify(message: NotifyMessage, delaySeconds = 0): Promise<void> {
    return this.send(this.urls.notify, message, delaySeconds);
  }

  private async send(QueueUrl: string, message: object, delaySeconds: number): Promise<void> {
    // SQS caps a message's delay at 15 minutes; a longer wait simply takes another round.
    const delay = Math.min(Math.max(0, Math.round(delaySeconds)), 900);
    const trace = currentTraceHeader();
    const attribute =
      trace === undefined ? undefined : { [traceAttribute]: { DataType: 'String', StringValue: trace } };
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: JSON.stringify(message),
        // No delay asked: leave DelaySeconds out, so the queue's own delay (if it has one) applies.
        ...(delay > 0 && { DelaySeconds: delay }),
        ...(attribute && { MessageSystemAttributes: attribute }),
        ...(attribute && this.traceAsMessageAttribute && { MessageAttributes: attribute }),
      }),
    );
  }
}
