import { Duration } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export type QueueName = 'generate' | 'poll' | 'notify';

export interface QueuesProps {
  /** Timeout of the function that consumes each queue; the visibility timeout is derived from it. */
  consumerTimeouts: Record<QueueName, Duration>;
}

/** Receives before a message is parked in its dead-letter queue. */
export const MAX_RECEIVE_COUNT = 5;

/**
 * AWS recommends a visibility timeout of at least six times the consumer's timeout, so a message
 * is not handed to a second consumer while the first one's invocation is still being retried.
 */
export function visibilityTimeoutFor(consumerTimeout: Duration): Duration {
  return Duration.seconds(consumerTimeout.toSeconds() * 6);
}

/**
 * The three work queues of SPEC §1 (generate → worker, poll → poller, notify → notifier), each
 * with its own dead-letter queue, so a message that keeps failing stops and can be inspected.
 */
export class Queues extends Construct {
  readonly generate: Queue;
  readonly poll: Queue;
  readonly notify: Queue;
  readonly deadLetterQueues: Record<QueueName, Queue>;

  constructor(scope: Construct, id: string, props: QueuesProps) {
    super(scope, id);
    const generate = this.workQueue('Generate', props.consumerTimeouts.generate);
    const poll = this.workQueue('Poll', props.consumerTimeouts.poll);
    const notify = this.workQueue('Notify', props.consumerTimeouts.notify);
    this.generate = generate.queue;
    this.poll = poll.queue;
    this.notify = notify.queue;
    this.deadLetterQueues = { generate: generate.dlq, poll: poll.dlq, notify: notify.dlq };
  }

  private workQueue(id: string, consumerTimeout: Duration): { queue: Queue; dlq: Queue } {
    const dlq = new Queue(this, `${id}Dlq`, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The longest SQS allows: time to notice the alarm, fix the cause and redrive.
      retentionPeriod: Duration.days(14),
    });
    const queue = new Queue(this, id, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: visibilityTimeoutFor(consumerTimeout),
      deadLetterQueue: { queue: dlq, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    return { queue, dlq };
  }
}
