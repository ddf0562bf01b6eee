import { SQSClient } from '@aws-sdk/client-sqs';
import { SqsDeadLetterQueues } from '../adapters/sqs-dead-letter-queues';
import { SqsTaskQueues } from '../adapters/sqs-task-queues';
import type { Config } from '../config';
import type { DeadLetterQueues, TaskQueues } from '../core/ports';
import { clientOptions, traced } from './aws-clients';

export function taskQueues(config: Config): TaskQueues {
  return new SqsTaskQueues(
    traced(new SQSClient(clientOptions(config.SQS_ENDPOINT))),
    {
      generate: config.GENERATE_QUEUE_URL,
      reserved: config.RESERVED_QUEUE_URL,
      poll: config.POLL_QUEUE_URL,
      notify: config.NOTIFY_QUEUE_URL,
    },
    // An endpoint of its own is the local emulator, which keeps no system attributes.
    config.SQS_ENDPOINT !== undefined,
  );
}

/** The stages' dead-letter queues, drained by the sweeper. */
export function deadLetterQueues(config: Config): DeadLetterQueues {
  return new SqsDeadLetterQueues(traced(new SQSClient(clientOptions(config.SQS_ENDPOINT))), {
    generate: config.GENERATE_DLQ_URL,
    reserved: config.RESERVED_DLQ_URL,
    poll: config.POLL_DLQ_URL,
    notify: config.NOTIFY_DLQ_URL,
  });
}
