import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureMessages } from '../../functions/core/errors';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient } from './support';

/**
 * The sweeper on the local stack: no poller runs here, so every poll message the worker sends is lost as
 * if SQS had dropped it. Each task must still end (failed, refunded, called back) after its deadline, and a
 * task named by a dead letter at once.
 */
const BUDGET_SECONDS = 6;
let stack: RunningLocalStack;
let client: ReturnType<typeof apiClient>;
const callbacks: { taskId: string; code: number; msg: string }[] = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => {
    body += c;
  });
  req.on('end', () => {
    const parsed = JSON.parse(body) as { code: number; msg: string; data: { taskId: string } };
    callbacks.push({ taskId: parsed.data.taskId, code: parsed.code, msg: parsed.msg });
    res.writeHead(200).end('ok');
  });
});
let callBackUrl = '';

beforeAll(async () => {
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  callBackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/cb`;
  stack = await startLocalStack({
    port: 0,
    simulatorLatencyMs: 60_000,
    consumers: ['generate', 'reserved', 'notify'],
    environment: {
      TASK_BUDGET_SECONDS: String(BUDGET_SECONDS),
      SWEEP_GRACE_SECONDS: '1',
      SWEEP_INTERVAL_SECONDS: '1',
    },
  });
  client = apiClient(stack);
});

afterAll(async () => {
  await stack?.stop();
  receiver.close();
});

describe('sweeper (local stack)', () => {
  it('ends a task whose poll message was lost after its deadline: failed, refunded, called back', async () => {
    const before = await client.credit();
    const started = Date.now();
    const taskId = await client.generate({ prompt: 'a lighthouse at dusk', model: 'veo3_fast', callBackUrl });
    // The worker submits it; nothing polls.
    await client.waitForRecord(taskId, () => true);
    expect(await client.credit()).toBeLessThan(before);

    const record = await client.waitForRecord(taskId, (d) => d.successFlag !== 0, 20_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(BUDGET_SECONDS * 1000);
    expect(record).toMatchObject({
      successFlag: 2,
      errorCode: 501,
      errorMessage: failureMessages.timedOut(BUDGET_SECONDS),
    });
    expect(await client.credit()).toBe(before);
    await expect
      .poll(() => callbacks.filter((c) => c.taskId === taskId), { timeout: 10_000 })
      .toEqual([{ taskId, code: 501, msg: failureMessages.timedOut(BUDGET_SECONDS) }]);
  });

  it('ends at once a task that a dead-lettered message names, and drains the message', async () => {
    const before = await client.credit();
    const taskId = await client.generate({
      prompt: 'a red kite over a field',
      model: 'veo3_fast',
      callBackUrl,
    });
    const started = Date.now();
    // As if its poll message had exhausted its receives.
    const sqs = new SQSClient({ region: process.env.AWS_REGION, endpoint: process.env.SQS_ENDPOINT });
    await sqs.send(
      new SendMessageCommand({ QueueUrl: process.env.POLL_DLQ_URL, MessageBody: JSON.stringify({ taskId }) }),
    );
    const record = await client.waitForRecord(taskId, (d) => d.successFlag !== 0, 20_000);
    expect(Date.now() - started).toBeLessThan(BUDGET_SECONDS * 1000);
    expect(record).toMatchObject({ successFlag: 2, errorMessage: failureMessages.deadLettered });
    expect(await client.credit()).toBe(before);
    await expect
      .poll(() => callbacks.filter((c) => c.taskId === taskId).map((c) => c.msg), { timeout: 10_000 })
      .toEqual([failureMessages.deadLettered]);
  });
});
