import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type QueueName, queues } from '../../functions/manifest';
import { type SqsCall, sentBodies, startSqsFaultProxy } from '../../local/sqs-fault-proxy';
import { startLocalStack } from '../../local/stack';
import { figure, type Results } from '../results';
import { startCallbackReceiver } from './callback-receiver';
import { apiCalls, type RecordData, runGroup, sleep } from './common';
import { collectEvents, eventFigures } from './events-collector';

/**
 * The soak's fault table (issue 14): one phase per injected fault, one after the other on one local stack,
 * each with its own tasks (signed callbacks to a loopback receiver). A phase ends when all its tasks have
 * ended and called back, or past the sweeper's deadline (task budget + grace + a sweep). Per fault: tasks
 * lost (unknown to record-info, or succeeded without a video), stuck (still unfinished), double-charged
 * (credits charged beyond the price of the tasks that succeeded, in tasks) and callbacks missing (an
 * ended task its client never heard of); each must be 0. Faults:
 * - poll-send: SendMessage of the first poll message fails right after `submitted` (SQS 500s beyond the
 *   SDK's retries): for three tasks for two deliveries of their generate message, for two for good (their
 *   generate message dead-letters; the sweeper ends them);
 * - worker-killed: the worker crashes mid-batch (its batch comes back after the visibility timeout);
 * - dynamodb-down: DynamoDB Local stopped 10 s, then started on the same port and data (`downtime` includes
 *   its start-up; submits made meanwhile are refused with a 5xx, which is not a loss: the client knows);
 * - callback-down: the client's receiver refuses connections for 2 min, time scaled 1/10 with the retry
 *   schedule (12 s down; retries after 1, 3, 12, 60, 180 s instead of 10, 30, 120, 600, 1800 s);
 * - poison: malformed bodies on the generate and poll queues among the tasks (`poison-left`: still in a
 *   queue or dead-letter queue at the end; the sweeper drains dead letters);
 * - events-publish: a third of the task events fail to publish (4 failed SendMessage attempts each, past
 *   the SDK's 3): none may be lost, duplicates are reported (delivery is at least once).
 */
const perFault = 20;
const price = 60; // veo3_fast, the default model
const timeScale = 10;
const retrySchedule = [10, 30, 120, 600, 1800].map((s) => s / timeScale);
const receiverDownMs = 120_000 / timeScale;
const budgetSeconds = 60;
const sweepGraceSeconds = 5;
/**
 * At most this long per phase: past the sweeper's deadline for its last task, with room for the end's
 * notify message to be redelivered a few times (a phase ends as soon as everything has arrived).
 */
const settleMs = (budgetSeconds + sweepGraceSeconds + 60) * 1000;

async function faults(): Promise<Results> {
  const dataDir = await mkdtemp(join(tmpdir(), 'veo-bench-faults-'));
  const proxy = await startSqsFaultProxy();
  const receiver = await startCallbackReceiver();
  const stack = await startLocalStack({
    port: 0,
    provider: 'simulator',
    pollIntervalSeconds: 1,
    devCredits: 10_000_000,
    dataDir,
    sqsProxy: proxy,
    simulator: { latencyMs: { min: 1000, max: 2000 }, seed: 14 },
    // In AWS a queue's visibility is 6× its consumer's timeout (5 receives span 5 min or more); here 10 s,
    // so 5 receives still outlast the DynamoDB outage and its restart.
    visibilityTimeoutSeconds: { generate: 10, poll: 10, notify: 10 },
    environment: {
      RATE_LIMIT: 'off',
      QUOTA_LIMIT: '1000',
      QUOTA_WINDOW_SECONDS: '1',
      TASK_BUDGET_SECONDS: String(budgetSeconds),
      SWEEP_GRACE_SECONDS: String(sweepGraceSeconds),
      CALLBACK_RETRY_SCHEDULE_SECONDS: retrySchedule.join(','),
      // The injected faults are the point here; their warnings would only flood the output.
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    },
  });
  receiver.setSecret(stack.webhookSecret);
  const queueUrl = (name: QueueName) => process.env[queues[name].env] ?? '';
  const dlqUrl = (name: QueueName) => process.env[queues[name].dlqEnv] ?? '';
  const isQueue = (call: SqsCall, name: QueueName) => call.queueUrl === queueUrl(name);
  const sqs = new SQSClient({
    endpoint: proxy.target,
    region: process.env.AWS_REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const events = collectEvents(proxy.target, process.env.EVENTS_QUEUE_URL ?? '');
  const api = apiCalls(stack.url, stack.apiKey);
  const results: Results = {};
  const allRecords = new Map<string, RecordData | null>();

  /** Messages still in the work queues and their dead-letter queues (visible or in flight). */
  const queued = async () => {
    let total = 0;
    for (const url of (['generate', 'reserved', 'poll'] as const).flatMap((q) => [queueUrl(q), dlqUrl(q)])) {
      const { Attributes = {} } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      total +=
        Number(Attributes.ApproximateNumberOfMessages ?? 0) +
        Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
    }
    return total;
  };

  async function phase(
    name: string,
    inject: () => Promise<Results | undefined>,
    options: {
      paceMs?: number;
      settled?: (records: Map<string, RecordData | null>) => Promise<boolean> | boolean;
    } = {},
  ): Promise<Map<string, RecordData | null>> {
    const creditsBefore = await api.credit();
    const started = Date.now();
    const ids: (string | undefined)[] = [];
    let refused = 0;
    const injecting = inject();
    await Promise.all(
      Array.from({ length: perFault }, async (_, i) => {
        await sleep(i * (options.paceMs ?? 0));
        try {
          const { status, taskId } = await api.generate({
            prompt: `${name} ${i}`,
            callBackUrl: receiver.url,
          });
          if (status === 200 && taskId) ids[i] = taskId;
          else refused++;
        } catch {
          refused++;
        }
      }),
    );
    const extra = (await injecting) ?? {};
    const accepted = ids.filter((id): id is string => id !== undefined);
    const records = new Map<string, RecordData | null>();
    const read = async (id: string) => {
      try {
        records.set(id, await api.record(id));
      } catch {
        // DynamoDB may still be starting: read again next round.
      }
    };
    const ended = (id: string) =>
      (records.get(id)?.successFlag ?? 0) !== 0 && (receiver.received.get(id)?.verified ?? 0) > 0;
    while (Date.now() - started < settleMs) {
      await Promise.all(accepted.filter((id) => !ended(id)).map(read));
      if (accepted.every(ended) && (await (options.settled?.(records) ?? true))) break;
      await sleep(1000);
    }
    await Promise.all(accepted.map(read));
    const creditsAfter = await api.credit();

    let lost = 0;
    let stuck = 0;
    let succeeded = 0;
    let failed = 0;
    let callbacksMissing = 0;
    let callbacksRepeated = 0;
    const reasons = new Map<string, number>();
    for (const id of accepted) {
      const record = records.get(id);
      allRecords.set(id, record ?? null);
      const callback = receiver.received.get(id);
      if (!record || (record.successFlag === 1 && !record.response?.resultUrls?.length)) lost++;
      else if (record.successFlag === 0) stuck++;
      else {
        if (record.successFlag === 1) succeeded++;
        else {
          failed++;
          reasons.set(record.errorMessage ?? '', (reasons.get(record.errorMessage ?? '') ?? 0) + 1);
        }
        if (!callback?.verified) callbacksMissing++;
        else if (callback.verified > 1) callbacksRepeated++;
      }
    }
    if (reasons.size > 0) console.log(`${name}: failed as`, Object.fromEntries(reasons));
    const discrepancy = creditsBefore - creditsAfter - price * succeeded;
    const upstream = stack.simulator.generations().filter((g) => g.prompt.startsWith(`${name} `));
    const prefix = `soak.fault.${name}`;
    Object.assign(results, {
      [`${prefix}.lost`]: figure(lost, 'tasks', { goal: '0' }),
      [`${prefix}.stuck`]: figure(stuck, 'tasks', { goal: '0' }),
      [`${prefix}.double-charged`]: figure(Math.max(0, Math.ceil(discrepancy / price)), 'tasks', {
        goal: '0',
      }),
      [`${prefix}.callbacks-missing`]: figure(callbacksMissing, 'tasks', { goal: '0' }),
      [`${prefix}.credits-discrepancy`]: figure(discrepancy, 'credits', {
        goal: '0 (charged − refunded = price × succeeded)',
      }),
      [`${prefix}.accepted`]: figure(accepted.length, 'tasks'),
      [`${prefix}.refused-at-submit`]: figure(refused, 'requests'),
      [`${prefix}.succeeded`]: figure(succeeded, 'tasks'),
      [`${prefix}.failed`]: figure(failed, 'tasks'),
      [`${prefix}.callbacks-repeated`]: figure(callbacksRepeated, 'tasks'),
      [`${prefix}.upstream-generations`]: figure(upstream.length, 'generations'),
      [`${prefix}.duration`]: figure((Date.now() - started) / 1000, 's'),
      ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [`${prefix}.${k}`, v])),
    });
    return records;
  }

  try {
    // poll-send
    const attempts = new Map<string, number>();
    const victims: string[] = [];
    proxy.rule = (call) => {
      if (call.action !== 'SendMessage' || !isQueue(call, 'poll')) return false;
      const body = call.messageBody as { taskId?: string; polls?: number } | undefined;
      if (!body?.taskId || body.polls !== 0) return false;
      if (!victims.includes(body.taskId)) {
        if (victims.length >= 5) return false;
        victims.push(body.taskId);
      }
      const n = (attempts.get(body.taskId) ?? 0) + 1;
      attempts.set(body.taskId, n);
      // The SDK tries 3 times per delivery: 6 failures lose two deliveries' first poll.
      return victims.indexOf(body.taskId) < 3 ? n <= 6 : true;
    };
    await phase('poll-send', async () => undefined);
    results['soak.fault.poll-send.tasks-hit'] = figure(victims.length, 'tasks');
    results['soak.fault.poll-send.failed-sends'] = figure(proxy.failed.SendMessage ?? 0, 'attempts');
    proxy.rule = undefined;

    // worker-killed
    await phase('worker-killed', async () => {
      const reached = () =>
        stack.simulator.generations().filter((g) => g.prompt.startsWith('worker-killed ')).length;
      for (let i = 0; i < 1200 && reached() < 3; i++) await sleep(50);
      return { abandoned: figure(await stack.restartWorker(), 'messages') };
    });

    // dynamodb-down: submits paced over the outage (some are refused with a 5xx while it lasts)
    await phase(
      'dynamodb-down',
      async () => {
        await sleep(1500);
        const t = performance.now();
        await stack.restartDynamoDb(10_000);
        return { downtime: figure((performance.now() - t) / 1000, 's') };
      },
      { paceMs: 200 },
    );

    // callback-down
    await phase('callback-down', async () => {
      await receiver.down();
      await sleep(receiverDownMs);
      await receiver.up();
      return {
        'receiver-down': figure(receiverDownMs / 1000, 's', { goal: '120 s ÷ 10 (retry schedule ÷ 10)' }),
      };
    });

    // poison
    const poison = ['{not json', '{"taskId":42,"polls":"x"}'];
    await phase(
      'poison',
      async () => {
        for (const queue of ['generate', 'poll'] as const)
          for (const body of poison)
            await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl(queue), MessageBody: body }));
        return { messages: figure(poison.length * 2, 'messages') };
      },
      { settled: async () => (await queued()) === 0 },
    );
    results['soak.fault.poison.poison-left'] = figure(await queued(), 'messages', { goal: '0' });

    // events-publish: every third event (by task and type) fails 4 attempts, past the SDK's 3
    const eventAttempts = new Map<string, number>();
    let seen = 0;
    const hit = new Set<string>();
    proxy.rule = (call) => {
      if (call.queueUrl !== process.env.EVENTS_QUEUE_URL) return false;
      // One event per SendMessage, or several in one SendMessageBatch (one PutEvents): a hit fails it whole.
      let fails = false;
      for (const body of sentBodies(call)) {
        const envelope = body as { 'detail-type'?: string; detail?: { taskId?: string } };
        if (!envelope.detail?.taskId?.length) continue;
        const key = `${envelope.detail.taskId} ${envelope['detail-type']}`;
        if (!eventAttempts.has(key)) {
          if (seen++ % 3 === 0) hit.add(key);
          eventAttempts.set(key, 0);
        }
        const n = (eventAttempts.get(key) ?? 0) + 1;
        eventAttempts.set(key, n);
        if (hit.has(key) && n <= 4) fails = true;
      }
      return fails;
    };
    const eventSendsFailed = () => (proxy.failed.SendMessage ?? 0) + (proxy.failed.SendMessageBatch ?? 0);
    const failedBefore = eventSendsFailed();
    const eventRecords = await phase('events-publish', async () => undefined, {
      settled: (records) => eventFigures(records, events.byTask).lost === 0,
    });
    proxy.rule = undefined;
    await events.stop(8000);
    const phaseEvents = eventFigures(eventRecords, events.byTask);
    const allEvents = eventFigures(allRecords, events.byTask);
    Object.assign(results, {
      'soak.fault.events-publish.events-failed': figure(hit.size, 'events'),
      'soak.fault.events-publish.failed-sends': figure(eventSendsFailed() - failedBefore, 'attempts'),
      'soak.fault.events-publish.events-lost': figure(phaseEvents.lost, 'events', { goal: '0' }),
      'soak.fault.events-publish.events-duplicated': figure(phaseEvents.duplicated, 'events'),
      'soak.fault.all.events-lost': figure(allEvents.lost, 'events', { goal: '0' }),
      'soak.fault.all.events-duplicated': figure(allEvents.duplicated, 'events'),
      'soak.fault.all.events-tasks': figure(allEvents.tasks, 'tasks'),
    });
    return results;
  } finally {
    proxy.rule = undefined;
    sqs.destroy();
    await stack.stop();
    await proxy.stop();
    receiver.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await runGroup('soak-faults', faults);
