import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type * as z from 'zod';
import { traceHeaderOr, traceIdOf, withTraceHeader } from '../adapters/observability/trace-header';
import { addLambdaContext, traceInvocation } from '../composition/observability';
import type { Delivery } from '../core/messages';
import type { Log } from '../core/ports';

type Segment = Parameters<Parameters<typeof traceInvocation>[0]>[0];

/**
 * An SQS consumer with partial batch failures: each record is parsed with the schema and handled on its
 * own; failed ones are reported in batchItemFailures and come back after their visibility timeout
 * (a message that keeps failing, malformed ones included, ends in the queue's dead-letter queue).
 * `handle` logs through the logger it is given: every entry then carries the record's taskId, its trace id
 * and the invocation's Lambda context.
 *
 * Each record continues the trace its sender gave it (the AWSTraceHeader attribute): its log lines carry
 * that trace id, the messages it sends carry the header on, and in X-Ray it is a `## record` subsegment
 * annotated with its taskId.
 */
export function sqsConsumer<T extends { taskId: string }>(
  schema: z.ZodType<T>,
  handle: (message: T, log: Log, delivery: Delivery) => Promise<void>,
  log: Log,
) {
  const processor = new BatchProcessor(EventType.SQS);
  const handleRecord = (invocation: Segment) => async (record: SQSRecord) => {
    const trace = traceHeaderOr(record.attributes.AWSTraceHeader);
    const message = schema.parse(JSON.parse(record.body));
    // Records are handled in parallel: each gets a logger of its own, carrying its taskId.
    const recordLog = log.createChild();
    recordLog.appendKeys({ taskId: message.taskId, traceId: traceIdOf(trace) });
    // Not made the current segment: records run concurrently, the current one is per process.
    const segment = invocation?.addNewSubsegment('## record');
    segment?.addAnnotation('taskId', message.taskId);
    segment?.addMetadata('AWSTraceHeader', trace);
    try {
      const delivery = { redelivered: Number(record.attributes.ApproximateReceiveCount) > 1 };
      await withTraceHeader(trace, () => handle(message, recordLog, delivery));
    } catch (error) {
      segment?.addError(error as Error);
      throw error;
    } finally {
      segment?.close();
    }
  };
  return (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    addLambdaContext(log, context);
    return traceInvocation((segment) =>
      processPartialResponse(event, handleRecord(segment), processor, { context }),
    );
  };
}
