import { createHash } from 'node:crypto';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { withTraceHeader } from '../../functions/adapters/observability/trace-header';
import { SqsTaskQueues } from '../../functions/adapters/sqs-task-queues';
import { type LocalStack, startEmulators } from '../../local/emulators';
import { type SqsEventSource, type SqsHandler, startSqsEventSource } from '../../local/sqs-event-source';

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('sqs event source on fauxqs', () => {
  let stack: LocalStack;
  let sqs: SQSClient;
  const sources: SqsEventSource[] = [];
  const logged: { message: string; details: Record<string, unknown> }[] = [];
  const log = (message: string, details: Record<string, unknown>) => logged.push({ message, details });

  const start = (
    queueUrl: string,
    handler: SqsHandler,
    extra: { queueArn?: string; waitTimeSeconds?: number } = {},
  ) => {
    const source = startSqsEventSource({
      sqs,
      queueUrl,
      handler,
      functionName: 'test-consumer',
      log,
      ...extra,
    });
    sources.push(source);
    return source;
  };

  /** Visible plus in-flight plus delayed: zero only once every message was deleted (or moved). */
  const messagesLeft = async (queueUrl: string) => {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
        ],
      }),
    );
    return (
      Number(Attributes.ApproximateNumberOfMessages) +
      Number(Attributes.ApproximateNumberOfMessagesNotVisible) +
      Number(Attributes.ApproximateNumberOfMessagesDelayed)
    );
  };

  beforeAll(async () => {
    // One-second visibility so that a message left undeleted is back within the test.
    // Queues of its own on the project's shared fauxqs (test/setup/emulators.ts).
    stack = await startEmulators({
      attach: inject('emulators'),
      visibilityTimeoutSeconds: { generate: 1, poll: 1, notify: 1 },
    });
    sqs = new SQSClient({
      region: stack.region,
      endpoint: stack.sqsEndpoint,
      credentials: stack.credentials,
    });
  });

  // Each test's sources end with it, so none of them takes another test's messages.
  afterEach(async () => {
    await Promise.all(sources.splice(0).map((source) => source.stop()));
  });

  afterAll(async () => {
    sqs?.destroy();
    await stack?.stop();
  });

  it('builds Lambda records, deletes the successes and redelivers the reported failure', async () => {
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: stack.queues.generate,
        Entries: [
          {
            Id: 'ok1',
            MessageBody: '{"taskId":"ok-1"}',
            MessageAttributes: { kind: { DataType: 'String', StringValue: 'generation' } },
          },
          { Id: 'retry', MessageBody: '{"taskId":"retry-me"}' },
          { Id: 'ok2', MessageBody: '{"taskId":"ok-2"}' },
        ],
      }),
    );
    const idOf = (entry: string) => sent.Successful?.find((s) => s.Id === entry)?.MessageId ?? '';

    const seen: SQSRecord[] = [];
    const contexts: Context[] = [];
    start(stack.queues.generate, async (event, context) => {
      seen.push(...event.Records);
      contexts.push(context);
      const failures = event.Records.filter(
        (r) => r.body.includes('retry-me') && r.attributes.ApproximateReceiveCount === '1',
      );
      return { batchItemFailures: failures.map((r) => ({ itemIdentifier: r.messageId })) };
    });

    await waitFor(
      () => seen.some((r) => r.body.includes('retry-me') && r.attributes.ApproximateReceiveCount === '2'),
      10_000,
      'the redelivery',
    );
    await waitFor(async () => (await messagesLeft(stack.queues.generate)) === 0, 5_000, 'an empty queue');

    // Successes were deleted after the first delivery: never seen again, though they shared the
    // failed message's visibility timeout.
    const bodies = seen.map((r) => r.body).sort();
    expect(bodies).toEqual([
      '{"taskId":"ok-1"}',
      '{"taskId":"ok-2"}',
      '{"taskId":"retry-me"}',
      '{"taskId":"retry-me"}',
    ]);

    const first = seen.find((r) => r.messageId === idOf('ok1'));
    expect(first).toMatchObject({
      body: '{"taskId":"ok-1"}',
      md5OfBody: createHash('md5').update('{"taskId":"ok-1"}').digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: stack.queueArns.generate,
      awsRegion: 'us-east-1',
      messageAttributes: {
        kind: { stringValue: 'generation', stringListValues: [], binaryListValues: [], dataType: 'String' },
      },
      attributes: { ApproximateReceiveCount: '1' },
    });
    expect(first?.receiptHandle).not.toBe('');
    expect(Number(first?.attributes.SentTimestamp)).toBeGreaterThan(Date.now() - 60_000);
    expect(Number(first?.attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThanOrEqual(
      Number(first?.attributes.SentTimestamp),
    );
    expect(first?.attributes.SenderId).toBeTruthy();
    const retried = seen.filter((r) => r.messageId === idOf('retry'));
    expect(retried.map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
    expect(contexts[0]?.functionName).toBe('test-consumer');
    expect(contexts[0]?.getRemainingTimeInMillis()).toBeGreaterThan(0);
  });

  it("hands the sender's trace to the record as Lambda does (attributes.AWSTraceHeader), though fauxqs keeps no system attributes", async () => {
    const trace = 'Root=1-6a1b2c3d-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1';
    const urls = {
      generate: stack.queues.generate,
      reserved: stack.queues.reserved,
      poll: stack.queues.poll,
      notify: stack.queues.notify,
    };
    // As deployed: the system attribute only. fauxqs drops it, which is why the local adapter also
    // carries it in a message attribute.
    await withTraceHeader(trace, () => new SqsTaskQueues(sqs, urls).poll({ taskId: 'system-only' }, 0));
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: stack.queues.poll,
        MessageSystemAttributeNames: ['All'],
        WaitTimeSeconds: 1,
      }),
    );
    expect(Messages.map((m) => [m.Body, m.Attributes?.AWSTraceHeader])).toEqual([
      ['{"taskId":"system-only"}', undefined],
    ]);
    // Gone, so that no later test on this queue meets it.
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: stack.queues.poll, ReceiptHandle: Messages[0]?.ReceiptHandle }),
    );

    await withTraceHeader(trace, () =>
      new SqsTaskQueues(sqs, urls, true).notify({ taskId: 'traced', event: 'generation' }),
    );
    const seen: SQSRecord[] = [];
    // Short polls: a long poll left open at fauxqs after stop() would take the next test's message.
    start(
      stack.queues.notify,
      async (event) => {
        seen.push(...event.Records);
      },
      { waitTimeSeconds: 0 },
    );
    await waitFor(() => seen.length > 0, 5_000, 'the traced message');
    expect(seen[0]?.attributes.AWSTraceHeader).toBe(trace);
  });

  it('leaves the whole batch when the handler throws; after maxReceiveCount it is in the DLQ', async () => {
    const { MessageId } = await sqs.send(
      new SendMessageCommand({ QueueUrl: stack.queues.notify, MessageBody: 'always-fails' }),
    );
    const receiveCounts: string[] = [];
    start(stack.queues.notify, async (event: SQSEvent) => {
      receiveCounts.push(...event.Records.map((r) => r.attributes.ApproximateReceiveCount));
      throw new Error('callback endpoint down');
    });

    const dead: { MessageId?: string; Body?: string }[] = [];
    await waitFor(
      async () => {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: stack.queues.notifyDlq, WaitTimeSeconds: 0 }),
        );
        dead.push(...Messages);
        return dead.length > 0;
      },
      15_000,
      'the dead letter',
    );

    expect(receiveCounts).toEqual(['1', '2', '3', '4', '5']);
    expect(dead.map((m) => m.Body)).toEqual(['always-fails']);
    expect(dead[0]?.MessageId).toBe(MessageId);
    expect(await messagesLeft(stack.queues.notify)).toBe(0);
    expect(logged.filter((line) => line.message.includes('handler failed'))).toHaveLength(5);
  });

  it('treats an unknown itemIdentifier as a failed batch, as Lambda does', async () => {
    let calls = 0;
    start(stack.queues.poll, async () => {
      calls += 1;
      // First call: an id that is not in the batch; second call: all good.
      return calls === 1 ? { batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] } : undefined;
    });
    await sqs.send(new SendMessageCommand({ QueueUrl: stack.queues.poll, MessageBody: 'poll-me' }));

    await waitFor(() => calls >= 2, 10_000, 'the second delivery');
    await waitFor(async () => (await messagesLeft(stack.queues.poll)) === 0, 5_000, 'an empty queue');
    expect(calls).toBe(2);
    expect(logged.some((line) => line.message.includes('invalid batchItemFailures'))).toBe(true);
  });

  it('stop() aborts a long poll at once and waits for the batch in flight', async () => {
    const create = async (name: string) =>
      (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl ?? '';
    // Two queues: fauxqs keeps an aborted long poll's waiter until its wait ends, and that waiter
    // would still take (and hide) the next message sent to its queue.
    const idleQueueUrl = await create('veo-test-stop-idle');
    const queueUrl = await create('veo-test-stop-busy');

    const idle = start(idleQueueUrl, async () => undefined, { waitTimeSeconds: 20 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stopStarted = Date.now();
    await idle.stop();
    expect(Date.now() - stopStarted).toBeLessThan(1_000);

    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let finished = false;
    let entered = false;
    const busy = start(
      queueUrl,
      async () => {
        entered = true;
        await gate;
        finished = true;
      },
      { waitTimeSeconds: 1 },
    );
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'slow' }));
    await waitFor(() => entered, 5_000, 'the handler to start');

    const stopping = busy.stop().then(() => finished);
    setTimeout(release, 300);
    expect(await stopping).toBe(true);
    // The batch was settled before stop() returned: its message is deleted, not left in flight.
    expect(await messagesLeft(queueUrl)).toBe(0);
  });

  it('keeps polling through errors (here, a queue that does not exist yet)', async () => {
    const queueUrl = `${stack.sqsEndpoint}/000000000000/veo-test-late`;
    const bodies: string[] = [];
    const errorsBefore = logged.filter((line) => line.message.includes('polling failed')).length;
    start(queueUrl, async (event) => {
      bodies.push(...event.Records.map((r) => r.body));
    });

    await waitFor(
      () => logged.filter((line) => line.message.includes('polling failed')).length > errorsBefore,
      5_000,
      'a logged polling error',
    );
    const { QueueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: 'veo-test-late' }));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'finally' }));
    await waitFor(() => bodies.includes('finally'), 10_000, 'the message after recovery');
    expect(bodies).toEqual(['finally']);
  });

  it('runs one source per consumer queue side by side', async () => {
    const received: Record<string, string[]> = { generate: [], poll: [], notify: [] };
    const queues = ['generate', 'poll', 'notify'] as const;
    const running = queues.map((queue) =>
      start(
        stack.queues[queue],
        async (event) => {
          received[queue]?.push(...event.Records.map((r) => r.body));
        },
        { queueArn: stack.queueArns[queue] },
      ),
    );
    await Promise.all(
      queues.map((queue) =>
        sqs.send(new SendMessageCommand({ QueueUrl: stack.queues[queue], MessageBody: `for-${queue}` })),
      ),
    );
    await waitFor(() => queues.every((queue) => (received[queue]?.length ?? 0) > 0), 10_000, 'all three');
    await Promise.all(running.map((source) => source.stop()));
    expect(received).toEqual({ generate: ['for-generate'], poll: ['for-poll'], notify: ['for-notify'] });
  });
});
