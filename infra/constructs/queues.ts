import { Duration } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { consumerOf, functions, type QueueName, queues } from '../../functions/manifest';

export type { QueueName } from '../../functions/manifest';

/** Receives before a message is parked in its dead-letter queue. */
export const MAX_RECEIVE_COUNT = 5;

/**
 * AWS recommends a visibility timeout of at least six times the consumer's timeout, so a message
 * is not handed to a second consumer while the first one's invocation is still being retried.
 */
export function visibilityTimeoutFor(consumerTimeoutSeconds: number): Duration {
  return Duration.seconds(consumerTimeoutSeconds * 6);
}

/**
 * The work queues of the manifest (generate and reserved → worker, poll → poller, notify → notifier), each
 * with its own dead-letter queue, so a message that keeps failing stops and can be inspected. Each queue's
 * visibility timeout follows its consumer's timeout in functions/manifest.ts.
 */
export class Queues extends Construct {
  readonly queues: Record<QueueName, Queue>;
  readonly deadLetterQueues: Record<QueueName, Queue>;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const made = (Object.keys(queues) as QueueName[]).map((name) => {
      const constructId = name[0]?.toUpperCase() + name.slice(1);
      return [name, this.workQueue(constructId, functions[consumerOf(name)].timeoutSeconds)] as const;
    });
    this.queues = Object.fromEntries(made.map(([name, { queue }]) => [name, queue])) as Record<
      QueueName,
      Queue
    >;
    this.deadLetterQueues = Object.fromEntries(made.map(([name, { dlq }]) => [name, dlq])) as Record<
      QueueName,
      Queue
    >;
  }

  private workQueue(id: string, consumerTimeoutSeconds: number): { queue: Queue; dlq: Queue } {
    const dlq = new Queue(this, `${id}Dlq`, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The longest SQS allows: time to notice the alarm, fix the cause and redrive.
      retentionPeriod: Duration.days(14),
    });
    const queue = new Queue(this, id, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: visibilityTimeoutFor(consumerTimeoutSeconds),
      deadLetterQueue: { queue: dlq, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    return { queue, dlq };
  }
}
