import {
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TaskEventEnvelope, taskEventJsonSchema } from '../../functions/core/events';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient } from './support';

/**
 * Task events on the local stack (issue 19): the notifier publishes each change to an SQS queue standing in
 * for an EventBridge rule's target; these tests read that queue as a rule's target would.
 */
let stack: RunningLocalStack;
let client: ReturnType<typeof apiClient>;
let sqs: SQSClient;
let queueUrl: string;
const seen: TaskEventEnvelope[] = [];

beforeAll(async () => {
  // A failed notify message comes back after 2 s; five receives before its DLQ leave room for an outage.
  stack = await startLocalStack({
    port: 0,
    simulatorLatencyMs: 300,
    pollIntervalSeconds: 1,
    visibilityTimeoutSeconds: { notify: 2 },
  });
  client = apiClient(stack);
  sqs = new SQSClient({ endpoint: process.env.SQS_ENDPOINT, region: process.env.AWS_REGION });
  queueUrl = process.env.EVENTS_QUEUE_URL ?? '';
});

afterAll(async () => {
  sqs?.destroy();
  await stack?.stop();
});

/** Reads the events queue until `done` holds for the events of `taskId`, as a rule's target would. */
async function eventsOf(taskId: string, done: (events: TaskEventEnvelope[]) => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  const mine = () =>
    seen.filter((e) => e.detail.taskId === taskId).sort((a, b) => a.time.localeCompare(b.time));
  while (!done(mine())) {
    if (Date.now() > deadline) throw new Error(`events of ${taskId}: ${mine().map((e) => e['detail-type'])}`);
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const message of Messages) {
      seen.push(JSON.parse(message.Body ?? '{}') as TaskEventEnvelope);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    }
  }
  return mine();
}

/** One event per change (a redelivered notify message may repeat one: consumers deduplicate on it). */
const distinct = (events: TaskEventEnvelope[]) => [...new Set(events.map((e) => e['detail-type']))];

describe('task events on the local stack', () => {
  it('publishes a task life as exactly the documented events, in order, each valid against the served schema', async () => {
    const { status, json } = await client.call<unknown>('GET', '/api/v1/events.schema.json', { key: null });
    expect(status).toBe(200);
    expect(json).toEqual(JSON.parse(JSON.stringify(taskEventJsonSchema())));
    const validate = new Ajv2020({ allErrors: true, strict: false }).compile(json as object);

    const taskId = await client.generate({ prompt: 'a lighthouse at dusk', model: 'veo3_fast' });
    await client.waitForRecord(taskId);
    const events = await eventsOf(taskId, (e) => e.some((x) => x['detail-type'] === 'Veo Task Succeeded'));
    expect(events.map((e) => e['detail-type'])).toEqual([
      'Veo Task Queued',
      'Veo Task Submitted',
      'Veo Task Succeeded',
    ]);
    for (const event of events) expect(validate(event), JSON.stringify(validate.errors)).toBe(true);
    expect(events.map((e) => [e.source, e.detail.status, e.detail.successFlag])).toEqual([
      ['veo-serverless', 'queued', 0],
      ['veo-serverless', 'submitted', 0],
      ['veo-serverless', 'succeeded', 1],
    ]);
    // The succeeded event carries the video's presigned URL, signed when it was published.
    const video = await fetch(events[2]?.detail.response?.resultUrls[0] ?? 'missing');
    expect(video.status).toBe(200);
  });

  it('neither fails the task nor loses its events when publishing fails for a while', async () => {
    // The rule's target disappears: every publication fails, and each notify message goes back to SQS.
    await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
    let taskId = '';
    try {
      taskId = await client.generate({ prompt: 'a harbour in the rain', model: 'veo3_fast' });
      const record = await client.waitForRecord(taskId);
      expect(record.successFlag).toBe(1);
    } finally {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: queueUrl.split('/').pop() }));
      expect(QueueUrl).toBe(queueUrl);
      await sqs.send(
        new SetQueueAttributesCommand({ QueueUrl, Attributes: { MessageRetentionPeriod: '1209600' } }),
      );
    }
    const events = await eventsOf(taskId, (e) => distinct(e).length === 3);
    expect(distinct(events)).toEqual(['Veo Task Queued', 'Veo Task Submitted', 'Veo Task Succeeded']);
  });
});
