import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type * as z from 'zod';
import { addLambdaContext } from '../composition/observability';
import type { Log } from '../core/ports';

/**
 * An SQS consumer with partial batch failures: each record is parsed with the schema and handled on its
 * own; failed ones are reported in batchItemFailures and come back after their visibility timeout
 * (a message that keeps failing, malformed ones included, ends in the queue's dead-letter queue).
 * `handle` logs through the logger it is given: every entry then carries the record's taskId and the
 * invocation's Lambda context.
 */
export function sqsConsumer<T extends { taskId: string }>(
  schema: z.ZodType<T>,
  handle: (message: T, log: Log) => Promise<void>,
  log: Log,
) {
  const processor = new BatchProcessor(EventType.SQS);
  const handleRecord = async (record: SQSRecord) => {
    const message = schema.parse(JSON.parse(record.body));
    // Records are handled in parallel: each gets a logger of its own, carrying its taskId.
    const recordLog = log.createChild();
    recordLog.appendKeys({ taskId: message.taskId });
    await handle(message, recordLog);
  };
  return (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    addLambdaContext(log, context);
    return processPartialResponse(event, handleRecord, processor, { context });
  };
}
