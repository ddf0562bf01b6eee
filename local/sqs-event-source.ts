import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { traceAttribute } from '../functions/adapters/sqs-task-queues';
import { createLambdaContext } from './lambda-context';

// biome-ignore lint/suspicious/noConfusingVoidType: Lambda SQS handlers may return nothing (= all succeeded).
export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface SqsEventSourceOptions {
  sqs: SQSClient;
  queueUrl: string;
  /** Looked up with GetQueueAttributes when absent. */
  queueArn?: string;
  handler: SqsHandler;
  /** At most 10: one ReceiveMessage call per batch. */
  batchSize?: number;
  /** Batches handled at once, each by its own poller (the mapping's maximum concurrency); default 1. */
  concurrency?: number;
  waitTimeSeconds?: number;
  functionName: string;
  /** The Lambda timeout behind `context.getRemainingTimeInMillis()`. */
  timeoutMs?: number;
  log?: (message: string, details: Record<string, unknown>) => void;
}

export interface SqsEventSource {
  stop(): Promise<void>;
  /**
   * Stops as a crashed function instance would: no new receive, and the batch in flight is abandoned,
   * never deleted, so its messages come back after their visibility timeout. The handler already running
   * cannot be interrupted in-process and runs to its end unheeded (a crash after the work, before the
   * delete, which redelivery must tolerate). Returns how many messages were abandoned.
   */
  crash(): number;
}

const firstBackoffMs = 200;
const maxBackoffMs = 5_000;

/**
 * Lambda's SQS event source mapping, with ReportBatchItemFailures on: long-poll the queue, hand each
 * batch to the handler, delete what it did not report as failed. Failed messages are left alone, so
 * they come back after the visibility timeout and reach the dead-letter queue by the redrive policy.
 */
export function startSqsEventSource(options: SqsEventSourceOptions): SqsEventSource {
  const batchSize = options.batchSize ?? 10;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) {
    throw new Error(`batchSize must be an integer from 1 to 10, got ${batchSize}`);
  }
  const waitTimeSeconds = options.waitTimeSeconds ?? 1;
  const log = options.log ?? ((message, details) => console.error(message, details));
  const stopping = new AbortController();
  let crashed = false;
  let inFlight = 0;

  const loop = async () => {
    let queueArn = options.queueArn;
    let backoffMs = firstBackoffMs;
    while (!stopping.signal.aborted) {
      try {
        queueArn ??= await lookUpQueueArn(options.sqs, options.queueUrl, stopping.signal);
        const { Messages: messages = [] } = await options.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            MaxNumberOfMessages: batchSize,
            WaitTimeSeconds: waitTimeSeconds,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: stopping.signal },
        );
        backoffMs = firstBackoffMs;
        // Once received, a batch is always run and settled, even if stop() was called meanwhile.
        if (messages.length > 0) await invoke(messages, queueArn);
        // Without long polling an empty queue would be asked again at once, in a tight loop.
        else if (waitTimeSeconds === 0) await sleep(firstBackoffMs, stopping.signal);
      } catch (error) {
        if (stopping.signal.aborted) break;
        log('sqs-event-source: polling failed, retrying', {
          functionName: options.functionName,
          queueUrl: options.queueUrl,
          error,
        });
        await sleep(backoffMs, stopping.signal);
        backoffMs = Math.min(backoffMs * 2, maxBackoffMs);
      }
    }
  };

  const invoke = async (messages: Message[], queueArn: string) => {
    const event: SQSEvent = { Records: messages.map((message) => toRecord(message, queueArn)) };
    const context = createLambdaContext({
      functionName: options.functionName,
      timeoutMs: options.timeoutMs ?? 30_000,
      region: regionOf(queueArn),
    });
    let result: SQSBatchResponse | undefined;
    inFlight += messages.length;
    try {
      result = (await options.handler(event, context)) ?? undefined;
      if (crashed) return;
      inFlight -= messages.length;
    } catch (error) {
      if (crashed) return;
      inFlight -= messages.length;
      // As in Lambda: the whole batch failed and every message comes back.
      log('sqs-event-source: handler failed, batch left for redelivery', {
        functionName: options.functionName,
        requestId: context.awsRequestId,
        error,
      });
      return;
    }
    const failed = failedMessageIds(result, event);
    if (failed === 'invalid') {
      log('sqs-event-source: invalid batchItemFailures, batch left for redelivery', {
        functionName: options.functionName,
        result,
      });
      return;
    }
    await deleteMessages(
      options.sqs,
      options.queueUrl,
      messages.filter((message) => !failed.has(message.MessageId ?? '')),
      log,
    );
  };

  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
  }
  const running = Promise.all(Array.from({ length: concurrency }, loop));
  return {
    stop: async () => {
      stopping.abort();
      await running;
    },
    crash: () => {
      crashed = true;
      stopping.abort();
      return inFlight;
    },
  };
}

/**
 * The ids Lambda would keep. An empty result means all succeeded; an empty, missing or unknown
 * itemIdentifier makes Lambda treat the whole batch as failed.
 */
function failedMessageIds(result: SQSBatchResponse | undefined, event: SQSEvent): Set<string> | 'invalid' {
  const failures = result?.batchItemFailures ?? [];
  if (!Array.isArray(failures)) return 'invalid';
  const known = new Set(event.Records.map((record) => record.messageId));
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !known.has(id)) return 'invalid';
    failed.add(id);
  }
  return failed;
}

async function deleteMessages(
  sqs: SQSClient,
  queueUrl: string,
  messages: Message[],
  log: NonNullable<SqsEventSourceOptions['log']>,
): Promise<void> {
  if (messages.length === 0) return;
  try {
    const { Failed: failed = [] } = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle,
        })),
      }),
    );
    if (failed.length > 0)
      log('sqs-event-source: some deletes failed; those messages will return', { failed });
  } catch (error) {
    // Not deleting only means a redelivery, which every consumer must tolerate anyway.
    log('sqs-event-source: delete failed; the batch will return', { queueUrl, error });
  }
}

async function lookUpQueueArn(sqs: SQSClient, queueUrl: string, signal: AbortSignal): Promise<string> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    { abortSignal: signal },
  );
  const arn = Attributes?.QueueArn;
  if (arn === undefined) throw new Error(`No QueueArn for ${queueUrl}`);
  return arn;
}

/** The record Lambda builds from a received message (the SDK's PascalCase becomes Lambda's camelCase). */
export function toRecord(message: Message, queueArn: string): SQSRecord {
  const attributes = { ...message.Attributes };
  // fauxqs keeps no system attributes: the sender carried the trace in a message attribute of that name.
  const trace = message.MessageAttributes?.[traceAttribute]?.StringValue;
  if (attributes.AWSTraceHeader === undefined && trace !== undefined) attributes.AWSTraceHeader = trace;
  const record: SQSRecord = {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ...attributes,
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? '000000000000',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: toRecordAttributes(message),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: regionOf(queueArn),
  };
  if (message.MD5OfMessageAttributes !== undefined)
    record.md5OfMessageAttributes = message.MD5OfMessageAttributes;
  return record;
}

function toRecordAttributes(message: Message): SQSMessageAttributes {
  const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
  const attributes: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    attributes[name] = {
      ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
      ...(value.BinaryValue === undefined ? {} : { binaryValue: base64(value.BinaryValue) }),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map(base64),
      dataType: value.DataType ?? 'String',
    };
  }
  return attributes;
}

/** `arn:aws:sqs:REGION:ACCOUNT:NAME` */
function regionOf(queueArn: string): string {
  return queueArn.split(':')[3] || 'us-east-1';
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(finish, ms);
    signal.addEventListener('abort', finish, { once: true });
    function finish() {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      done();
    }
  });
}
