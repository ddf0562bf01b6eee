import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { GenerateMessage, NotifyMessage, PollMessage } from '../core/messages';
import type { TaskQueues } from '../core/ports';

export interface QueueUrls {
  generate: string;
  poll: string;
  notify: string;
}

/** The stages' three SQS queues; message bodies are the small JSON messages of core/messages.ts. */
export class SqsTaskQueues implements TaskQueues {
  constructor(
    private readonly sqs: SQSClient,
    private readonly urls: QueueUrls,
  ) {}

  generate(message: GenerateMessage, delaySeconds = 0): Promise<void> {
    return this.send(this.urls.generate, message, delaySeconds);
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
    // No delay asked: leave DelaySeconds out, so the queue's own delay (if it has one) applies.
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: JSON.stringify(message),
        ...(delay > 0 && { DelaySeconds: delay }),
      }),
    );
  }
}
