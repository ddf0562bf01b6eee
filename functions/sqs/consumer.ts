import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod';

/** Every pipeline message names one task. */
export const taskMessageSchema = z.object({ taskId: z.string().min(1) });

/**
 * An SQS consumer with partial batch failures: each record is parsed with the schema and handled on its
 * own; failed ones are reported in batchItemFailures and come back after their visibility timeout
 * (a message that keeps failing, malformed ones included, ends in the queue's dead-letter queue).
 */
export function sqsConsumer<T>(schema: z.ZodType<T>, handle: (message: T) => Promise<void>) {
  const processor = new BatchProcessor(EventType.SQS);
  const handleRecord = async (record: SQSRecord) => handle(schema.parse(JSON.parse(record.body)));
  return (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(event, handleRecord, processor, { context });
}
