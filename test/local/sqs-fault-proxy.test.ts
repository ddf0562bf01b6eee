import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  SQSServiceException,
} from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SqsFaultProxy, sentBodies, startSqsFaultProxy } from '../../local/sqs-fault-proxy';

/** The soak bench's fault injection (bench/groups/soak-faults.ts) in front of a real fauxqs. */
describe('sqs fault proxy', () => {
  let fauxqs: Awaited<ReturnType<typeof startFauxqs>>;
  let proxy: SqsFaultProxy;
  let sqs: SQSClient;
  let queueUrl: string;

  beforeAll(async () => {
    fauxqs = await startFauxqs({ port: 0, logger: false, defaultRegion: 'us-east-1' });
    proxy = await startSqsFaultProxy(`http://127.0.0.1:${fauxqs.port}`);
    sqs = new SQSClient({
      endpoint: proxy.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 2,
    });
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'faults' }))).QueueUrl ?? '';
  });

  afterAll(async () => {
    sqs?.destroy();
    await proxy?.stop();
    await fauxqs?.stop();
  });

  it('fails the calls its rule picks as an SQS 500 (each SDK attempt), passes the rest through', async () => {
    const seen: { action: string; body: unknown }[] = [];
    proxy.rule = (call) => {
      seen.push({ action: call.action, body: call.messageBody });
      return call.action === 'SendMessage' && (call.messageBody as { fail?: boolean }).fail === true;
    };
    const failing = sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ fail: true }) }),
    );
    await expect(failing).rejects.toBeInstanceOf(SQSServiceException);
    await expect(failing).rejects.toMatchObject({ $metadata: { httpStatusCode: 500 } });
    expect(proxy.failed.SendMessage).toBe(2); // both attempts the client makes

    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ n: 1 }) }));
    proxy.rule = undefined;
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    // Only the message that passed reached the queue; the rule saw the parsed body and the operation.
    expect(Messages.map((m) => m.Body)).toEqual(['{"n":1}']);
    expect(seen.map((s) => s.action)).toEqual(['SendMessage', 'SendMessage', 'SendMessage']);
    expect(seen[2]?.body).toEqual({ n: 1 });
  });

  it('shows a SendMessageBatch with each of its bodies, and fails it whole', async () => {
    proxy.rule = (call) => sentBodies(call).some((body) => (body as { fail?: boolean }).fail === true);
    const batch = (bodies: object[]) =>
      sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: bodies.map((body, i) => ({ Id: String(i), MessageBody: JSON.stringify(body) })),
        }),
      );
    await expect(batch([{ n: 2 }, { fail: true }])).rejects.toMatchObject({
      $metadata: { httpStatusCode: 500 },
    });
    expect(proxy.failed.SendMessageBatch).toBe(2);
    await batch([{ n: 3 }, { n: 4 }]);
    proxy.rule = undefined;
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(Messages.map((m) => m.Body).sort()).toEqual(['{"n":3}', '{"n":4}']);
  });
});
