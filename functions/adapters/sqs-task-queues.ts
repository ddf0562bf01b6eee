import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { GenerateMessage, NotifyMessage, PollMessage, TaskQueues } from '../core/ports';

export interface QueueUrls {
  generate: string;
  poll: string;
  notify: string;
}

/** The pipeline's three SQS queues; message bodies are the small JSON messages of core/ports. */
export class SqsTaskQueues implements TaskQueues {
  constructor(
    private readonly sqs: SQSClient,
    private readonly urls: QueueUrls,
  ) {}

  generate(message: GenerateMessage): Promise<void> {
    return this.send(this.urls.generate, message, 0);
  }

  poll(message: PollMessage, delaySeconds: number): Promise<void> {
    // SQS caps a message's delay at 15 minutes.
    return this.send(this.urls.poll, message, Math.min(Math.max(0, Math.round(delaySeconds)), 900));
  }

  notify(message: NotifyMessage): Promise<void> {
    return this.send(this.urls.notify, message, 0);
  }

  private async send(QueueUrl: string, message: object, DelaySeconds: number): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify(message), DelaySeconds }),
    );
  }
}
