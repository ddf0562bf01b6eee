import { type SendMessageCommandInput, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { withTraceHeader } from './observability/trace-header';
import { SqsTaskQueues } from './sqs-task-queues';

const urls = { generate: 'q/generate', reserved: 'q/reserved', poll: 'q/poll', notify: 'q/notify' };
const trace = 'Root=1-6a1b2c3d-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1';

/** A real client whose requests stop at its first middleware, which records each command's input. */
function recordingSqs() {
  const sent: SendMessageCommandInput[] = [];
  const sqs = new SQSClient({ region: 'us-east-1' });
  sqs.middlewareStack.add(
    () => async (args) => {
      sent.push(args.input as SendMessageCommandInput);
      return { output: { $metadata: {} }, response: {} };
    },
    { step: 'initialize' },
  );
  return { sent, sqs };
}

describe('SqsTaskQueues', () => {
  it('sends the trace of the invocation as the AWSTraceHeader system attribute', async () => {
    const { sent, sqs } = recordingSqs();
    await withTraceHeader(trace, () => new SqsTaskQueues(sqs, urls).poll({ taskId: 't1', polls: 1 }, 5));
    expect(sent[0]).toMatchObject({
      QueueUrl: 'q/poll',
      DelaySeconds: 5,
      MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: trace } },
    });
    expect(sent[0]?.MessageAttributes).toBeUndefined();
  });

  it('also carries it as a message attribute for the emulator, which keeps no system attributes', async () => {
    const { sent, sqs } = recordingSqs();
    await withTraceHeader(trace, () =>
      new SqsTaskQueues(sqs, urls, true).notify({ taskId: 't1', event: 'generation' }),
    );
    expect(sent[0]?.MessageAttributes).toEqual({
      AWSTraceHeader: { DataType: 'String', StringValue: trace },
    });
  });

  it("sends a reserved slot's message to the reserved queue, with its delay", async () => {
    const { sent, sqs } = recordingSqs();
    const slot = { scope: 'kie', at: 1_800_000_000_000 };
    await new SqsTaskQueues(sqs, urls).reserved({ taskId: 't1', slot }, 7);
    expect(sent[0]).toMatchObject({
      QueueUrl: 'q/reserved',
      DelaySeconds: 7,
      MessageBody: JSON.stringify({ taskId: 't1', slot }),
    });
  });

  it('sends no attribute outside a traced invocation', async () => {
    const { sent, sqs } = recordingSqs();
    await new SqsTaskQueues(sqs, urls, true).generate({ taskId: 't1' });
    expect(sent[0]?.MessageSystemAttributes).toBeUndefined();
    expect(sent[0]?.MessageAttributes).toBeUndefined();
  });
});
