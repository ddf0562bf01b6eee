import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetter, DeadLetterQueues } from '../core/ports';

/** The stages' dead-letter queues by their stage (those a deployment has). */
export type DeadLetterQueueUrls = Partial<Record<DeadLetter['queue'], string>>;

/** SQS receives at most 10 messages per call. */
const SQS_MAX_RECEIVE = 10;

/** The dead-letter queues in SQS: short polls (the sweeper runs again soon), deletes by receipt handle. */
export class SqsDeadLetterQueues implements DeadLetterQueues {
  constructor(
    private readonly sqs: SQSClient,
    private readonly urls: DeadLetterQueueUrls,
  ) {}

  async receive(max: number): Promise<DeadLetter[]> {
    const letters: DeadLetter[] = [];
    for (const [queue, url] of Object.entries(this.urls) as [DeadLetter['queue'], string | undefined][]) {
      if (!url) continue;
      while (letters.length < max) {
        const out = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: Math.min(SQS_MAX_RECEIVE, max - letters.length),
            WaitTimeSeconds: 0,
          }),
        );
        const messages = out.Messages ?? [];
        for (const { Body, ReceiptHandle } of messages) {
          if (ReceiptHandle) letters.push({ queue, body: Body ?? '', receipt: ReceiptHandle });
        }
        if (messages.length === 0) break;
      }
    }
    return letters;
  }

  async remove(letter: DeadLetter): Promise<void> {
    const url = this.urls[letter.queue];
    if (!url) return;
    await this.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: letter.receipt }));
  }
}
