import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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
import { hashApiKey, newApiKey, newWebhookSecret } from '../../functions/core/api-keys';
import { type TaskEventEnvelope, taskEventJsonSchema } from '../../functions/core/event-schema';
import { taskCredits } from '../../functions/core/pricing';
import type { TaskRecord } from '../../functions/core/task/record';
import { LOCAL_IAM_PRINCIPAL_HEADER } from '../../functions/http/api-routes';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient, localDeps, taskCount } from './support';

/**
 * Issue 19 on the local stack, one stack for both: task events (the notifier publishes each change to an
 * SQS queue standing in for an EventBridge rule's target; these tests read that queue as a rule's target
 * would) and the IAM routes (the caller's ARN in LOCAL_IAM_PRINCIPAL_HEADER, where API Gateway would put
 * the SigV4-verified one).
 */
let stack: RunningLocalStack;
let client: ReturnType<typeof apiClient>;
let sqs: SQSClient;
let queueUrl: string;
const seen: TaskEventEnvelope[] = [];

/** The pipeline's role, mapped by IAM_PRINCIPALS to a key of its own (not the development key). */
const pipelineRole = 'arn:aws:iam::123456789012:role/VideoPipeline';
const pipelineKey = newApiKey();
const pipelineCredits = 1000;

/**
 * Step Functions' API on loopback (its JSON protocol: X-Amz-Target + a JSON body), answering every call:
 * the notifier's real SFN client calls it through SFN_ENDPOINT, as it would call AWS.
 */
const stepFunctionsCalls: { target: string; input: { taskToken?: string; output?: string } }[] = [];
const stepFunctions = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => {
    body += chunk.toString();
  });
  req.on('end', () => {
    stepFunctionsCalls.push({ target: String(req.headers['x-amz-target']), input: JSON.parse(body) });
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{}');
  });
});

beforeAll(async () => {
  stepFunctions.listen(0, '127.0.0.1');
  await once(stepFunctions, 'listening');
  // A failed notify message comes back after 2 s; five receives before its DLQ leave room for an outage.
  stack = await startLocalStack({
    port: 0,
    simulatorLatencyMs: 300,
    pollIntervalSeconds: 1,
    visibilityTimeoutSeconds: { notify: 2 },
    environment: {
      IAM_PRINCIPALS: JSON.stringify({ [pipelineRole]: hashApiKey(pipelineKey) }),
      // Only the pipeline's key may start a task that answers a Step Functions token.
      TASK_TOKEN_KEYS: hashApiKey(pipelineKey),
      SFN_ENDPOINT: `http://127.0.0.1:${(stepFunctions.address() as AddressInfo).port}`,
    },
  });
  client = apiClient(stack);
  await (await localDeps()).apiKeys.put({
    keyHash: hashApiKey(pipelineKey),
    name: 'pipeline',
    credits: pipelineCredits,
    webhookSecret: newWebhookSecret(),
    createdAt: Date.now(),
  });
  sqs = new SQSClient({ endpoint: process.env.SQS_ENDPOINT, region: process.env.AWS_REGION });
  queueUrl = process.env.EVENTS_QUEUE_URL ?? '';
});

afterAll(async () => {
  sqs?.destroy();
  await stack?.stop();
  stepFunctions.close();
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

    // A whole life: generated, then a 1080p rendition made from it (by ffmpeg, on the poller).
    const taskId = await client.generate({ prompt: 'a lighthouse at dusk', model: 'veo3_fast' });
    await client.waitForRecord(taskId);
    const asked = await client.call('GET', `/api/v1/veo/get-1080p-video?taskId=${taskId}&index=0`);
    expect(asked.status).toBe(400); // processing: the rendition has started
    const events = await eventsOf(
      taskId,
      (e) => e.some((x) => x['detail-type'] === 'Veo Rendition Ready'),
      60_000,
    );
    expect(events.map((e) => e['detail-type'])).toEqual([
      'Veo Task Queued',
      'Veo Task Submitted',
      'Veo Task Succeeded',
      'Veo Rendition Ready',
    ]);
    for (const event of events) expect(validate(event), JSON.stringify(validate.errors)).toBe(true);
    expect(events.map((e) => [e.source, e.detail.status, e.detail.successFlag])).toEqual([
      ['veo-serverless', 'queued', 0],
      ['veo-serverless', 'submitted', 0],
      ['veo-serverless', 'succeeded', 1],
      ['veo-serverless', 'succeeded', 1],
    ]);
    expect(events[3]?.detail.rendition).toMatchObject({ slot: '1080p_0', status: 'ready', error: null });
    // The succeeded event carries the video's presigned URL, signed when it was published.
    const video = await fetch(events[2]?.detail.response?.resultUrls[0] ?? 'missing');
    expect(video.status).toBe(200);
  }, 90_000);

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

describe('IAM routes on the local stack', () => {
  /** record-info over the IAM route, polled as the submitter would, until the task ends. */
  async function finishedAs(principal: string, taskId: string): Promise<TaskRecord> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const info = await asPrincipal<TaskRecord>(
        principal,
        'GET',
        `/api/v1/veo/record-info?taskId=${taskId}`,
      );
      expect(info.status).toBe(200);
      if (info.json.data.successFlag !== 0) return info.json.data;
      if (Date.now() > deadline)
        throw new Error(`task ${taskId} did not finish: ${JSON.stringify(info.json)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** A call to `/iam/api/v1/...` as `principal` (none: no header), with no API key. */
  const asPrincipal = <T = unknown>(
    principal: string | undefined,
    method: string,
    path: string,
    body?: unknown,
  ) =>
    client.call<T>(method, `/iam${path}`, {
      key: null,
      body,
      headers: principal ? { [LOCAL_IAM_PRINCIPAL_HEADER]: principal } : {},
    });

  it("serves generate, record-info and credit to a mapped role's session, charged to its key", async () => {
    // What a Lambda or a state machine calls as: a session of the mapped role.
    const session = 'arn:aws:sts::123456789012:assumed-role/VideoPipeline/states-execution-1';
    const developmentBefore = await client.credit();
    const submitted = await asPrincipal<{ taskId: string }>(session, 'POST', '/api/v1/veo/generate', {
      prompt: 'a lighthouse keeper at dawn',
      model: 'veo3_fast',
    });
    expect([submitted.status, submitted.json.msg]).toEqual([200, 'success']);
    const { taskId } = submitted.json.data;
    const price = taskCredits((await localDeps()).settings, {
      model: 'veo3_fast',
      resolution: '720p',
      durationSeconds: 8,
      generateAudio: true,
      sampleCount: 1,
    });
    const credit = await asPrincipal<number>(pipelineRole, 'GET', '/api/v1/chat/credit');
    expect([credit.status, credit.json.data]).toEqual([200, pipelineCredits - price]);

    const record = await finishedAs(session, taskId);
    expect(record).toMatchObject({ taskId, successFlag: 1, creditsConsumed: price });
    // The task is the pipeline key's: the development key neither paid for it nor sees it.
    expect(await client.credit()).toBe(developmentBefore);
    const foreign = await client.call('GET', `/api/v1/veo/record-info?taskId=${taskId}`);
    expect([foreign.json.code, foreign.json.msg]).toEqual([422, 'record is null']);
  });

  it('answers the task token of a task submitted over the IAM route with exactly one SendTaskSuccess', async () => {
    // What the README's submitter Lambda does inside a `.waitForTaskToken` step.
    const submitted = await asPrincipal<{ taskId: string }>(pipelineRole, 'POST', '/api/v1/veo/generate', {
      prompt: 'a paper boat on a pond',
      model: 'veo3_fast',
      taskToken: 'AQB-local-token',
    });
    expect([submitted.status, submitted.json.msg]).toEqual([200, 'success']);
    const { taskId } = submitted.json.data;
    const record = await finishedAs(pipelineRole, taskId);
    expect(record.successFlag).toBe(1);
    // The end's notify message answers the token, then publishes the event: once the event is here, the
    // answer has been given.
    await eventsOf(taskId, (e) => e.some((x) => x['detail-type'] === 'Veo Task Succeeded'));
    expect(stepFunctionsCalls.map((c) => [c.target, c.input.taskToken])).toEqual([
      ['AWSStepFunctions.SendTaskSuccess', 'AQB-local-token'],
    ]);
    expect(JSON.parse(stepFunctionsCalls[0]?.input.output ?? '{}')).toMatchObject({
      taskId,
      successFlag: 1,
      response: { resultUrls: [expect.any(String)] },
    });
    // The token is the pipeline's secret: never shown in the record.
    expect(JSON.stringify(record)).not.toContain('AQB-local-token');
    // A key not allowed to use tokens is refused (the development key, on the API-key routes).
    const refused = await client.call('POST', '/api/v1/veo/generate', {
      body: { prompt: 'a paper boat on a pond', taskToken: 'AQB-other' },
    });
    expect([refused.status, refused.json.msg]).toEqual([
      422,
      'taskToken is not allowed for this API key (TASK_TOKEN_KEYS)',
    ]);
  });

  it('refuses an unmapped principal and a request without one, writing and charging nothing', async () => {
    const tasksBefore = await taskCount();
    const creditBefore = (await asPrincipal<number>(pipelineRole, 'GET', '/api/v1/chat/credit')).json.data;
    const body = { prompt: 'a lighthouse keeper at dawn', model: 'veo3_fast' };
    const unmapped = await asPrincipal(
      'arn:aws:iam::123456789012:role/Other',
      'POST',
      '/api/v1/veo/generate',
      body,
    );
    expect([unmapped.status, unmapped.json]).toEqual([
      401,
      {
        code: 401,
        msg: 'You do not have access permissions: this IAM principal is not mapped to an API key',
        data: null,
      },
    ]);
    const anonymous = await asPrincipal(undefined, 'POST', '/api/v1/veo/generate', body);
    expect([anonymous.status, anonymous.json.code]).toEqual([401, 401]);
    // An API key is no principal: the IAM routes refuse even the valid development key.
    const bearer = await client.call('POST', '/iam/api/v1/veo/generate', { body });
    expect([bearer.status, bearer.json.code]).toEqual([401, 401]);
    expect(await taskCount()).toBe(tasksBefore);
    expect((await asPrincipal<number>(pipelineRole, 'GET', '/api/v1/chat/credit')).json.data).toBe(
      creditBefore,
    );
  });

  it('leaves the API-key routes as they were: a key works, the principal header alone does not', async () => {
    const withKey = await client.call<number>('GET', '/api/v1/chat/credit');
    expect([withKey.status, withKey.json.code]).toEqual([200, 200]);
    const headerOnly = await client.call('GET', '/api/v1/chat/credit', {
      key: null,
      headers: { [LOCAL_IAM_PRINCIPAL_HEADER]: pipelineRole },
    });
    expect([headerOnly.status, headerOnly.json.msg]).toEqual([
      401,
      'You do not have access permissions: a valid API key is required (Authorization: Bearer <key>)',
    ]);
  });
});
