import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { isEndChange, type TaskChangeType, taskEventTypes } from '../../functions/core/task/change';
import { verifyWebhook } from '../../functions/core/webhook-signatures';
import { startLocalStack } from '../../local/stack';
import { figure, type Results } from '../results';
import { apiCalls, eachLimited, type RecordData, runGroup, sleep } from './common';

/**
 * 8. soak: 1,000 tasks through the local stack (the same handlers as Lambda) while the simulator (Gemini
 * API shape) fails 10 % of the generations and answers 5 % of submits and polls with 429, and the worker
 * is restarted once mid-run as after a crash (its batch in flight comes back after the generate queue's
 * visibility timeout). Every task has a callBackUrl on a loopback receiver here that verifies both
 * signatures. At the end: nothing lost, duplicated or stuck, every finished task called back, and the
 * credits charged minus refunded equal the price of the tasks that succeeded. Task events (issue 19) are
 * read from the events queue (a rule's SQS target) throughout, and publishing fails for a while mid-run:
 * no event lost, duplicates (at least once) counted.
 */
/** SOAK_TASKS runs fewer, to check the group itself; the figures are for 1,000. */
const tasks = Number(process.env.SOAK_TASKS ?? 1000);
const clients = 16;
const price = 60; // veo3_fast, the default model
const failureRate = 0.1;
const rateLimitRate = 0.05;
/** The worker restarts once this many generations have reached the upstream. */
const restartAfter = Math.min(300, Math.floor(tasks * 0.3));
/** Publishing fails from this many generations on, for `eventsOutageMs` (notify's 10 s redelivery, 5 tries). */
const eventsOutageAfter = Math.floor(restartAfter / 2);
const eventsOutageMs = 5_000;
/** Makes every event larger than the events queue accepts during the outage (MaximumMessageSize 1,024). */
const promptFiller = ' in a quiet valley at dawn'.repeat(48);
/** Time allowed after the last submit for every task to end and call back. */
const settleMs = 150_000;

/** The events queue as a rule's SQS target: every event's detail-type per task, read until stopped. */
function collectEvents(sqs: SQSClient, queueUrl: string, readers = 2) {
  const seen = new Map<string, string[]>();
  let running = true;
  const read = async () => {
    while (running) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const message of Messages) {
        const event = JSON.parse(message.Body ?? '{}') as {
          'detail-type'?: string;
          detail?: { taskId?: string };
        };
        const taskId = event.detail?.taskId ?? '';
        seen.set(taskId, [...(seen.get(taskId) ?? []), event['detail-type'] ?? '']);
      }
      if (Messages.length === 0) continue;
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
    }
  };
  const loops = Array.from({ length: readers }, read);
  return {
    seen,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

const endDetailTypes = new Set<string>(
  (Object.keys(taskEventTypes) as TaskChangeType[]).filter(isEndChange).map((t) => taskEventTypes[t]),
);

interface Received {
  verified: number;
  refused: number;
  code?: number;
}

async function soak(): Promise<Results> {
  const received = new Map<string, Received>();
  let secret = '';
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let taskId = '';
      let code: number | undefined;
      let ok = false;
      try {
        const body = verifyWebhook(secret, req.headers, raw) as { code?: number; data?: { taskId?: string } };
        taskId = body.data?.taskId ?? '';
        code = body.code;
        ok = true;
      } catch {
        taskId = (JSON.parse(raw) as { data?: { taskId?: string } }).data?.taskId ?? '';
      }
      const entry = received.get(taskId) ?? { verified: 0, refused: 0 };
      if (ok) {
        entry.verified++;
        entry.code = code;
      } else entry.refused++;
      received.set(taskId, entry);
      res.writeHead(200).end();
    });
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  const callBackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/callback`;

  const stack = await startLocalStack({
    port: 0,
    provider: 'simulator',
    pollIntervalSeconds: 1,
    devCredits: 10_000_000,
    simulator: { latencyMs: { min: 1000, max: 4000 }, failureRate, rateLimitRate, seed: 8 },
    // Short, so the crashed worker's batch comes back within the run.
    visibilityTimeoutSeconds: { generate: 5 },
    environment: {
      RATE_LIMIT: 'off',
      QUOTA_LIMIT: '1000',
      QUOTA_WINDOW_SECONDS: '1',
      // The 429s and failures are the point here; their warnings would only flood the output.
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    },
  });
  secret = stack.webhookSecret;
  const sqs = new SQSClient({ endpoint: process.env.SQS_ENDPOINT, region: process.env.AWS_REGION });
  const eventsQueueUrl = process.env.EVENTS_QUEUE_URL ?? '';
  const events = collectEvents(sqs, eventsQueueUrl);
  const eventsQueueSize = (bytes: number) =>
    sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: eventsQueueUrl,
        Attributes: { MaximumMessageSize: String(bytes) },
      }),
    );
  try {
    const api = apiCalls(stack.url, stack.apiKey);
    const creditsBefore = await api.credit();
    const started = performance.now();

    // One worker restart, once enough generations have reached the upstream.
    let restartedAt: number | undefined;
    let abandoned = 0;
    let submitting = true;
    const restarter = (async () => {
      while (submitting || restartedAt === undefined) {
        if (stack.simulator.generations().length >= restartAfter || !submitting) {
          abandoned = await stack.restartWorker();
          restartedAt = performance.now() - started;
          return;
        }
        await sleep(50);
      }
    })();

    // The rule's target refuses every event for a while: each notify message goes back to SQS.
    let eventsOutageAt: number | undefined;
    const eventsOutage = (async () => {
      while (submitting && stack.simulator.generations().length < eventsOutageAfter) await sleep(50);
      eventsOutageAt = performance.now() - started;
      await eventsQueueSize(1024);
      await sleep(eventsOutageMs);
      await eventsQueueSize(1_048_576);
    })();

    const taskIds: (string | undefined)[] = Array.from({ length: tasks });
    let refusedAtSubmit = 0;
    await eachLimited(taskIds, clients, async (_, i) => {
      const { status, taskId } = await api.generate({ prompt: `soak ${i}${promptFiller}`, callBackUrl });
      if (status === 200 && taskId) taskIds[i] = taskId;
      else refusedAtSubmit++;
    });
    submitting = false;
    await restarter;
    await eventsOutage;
    const submittedMs = performance.now() - started;
    const accepted = taskIds.flatMap((id, i) => (id ? [{ id, prompt: `soak ${i}${promptFiller}` }] : []));

    // Callbacks tell when the tasks end; record-info is read once, at the end.
    const deadline = Date.now() + settleMs;
    while (Date.now() < deadline && accepted.some((t) => !received.get(t.id)?.verified)) await sleep(500);
    const records = new Map<string, RecordData | null>();
    await eachLimited(accepted, clients, async (task) => {
      records.set(task.id, await api.record(task.id));
    });
    const doneMs = performance.now() - started;
    // Every task's end event, then the reader stops (those still missing then are counted lost).
    const hasEnd = (id: string) => events.seen.get(id)?.some((t) => endDetailTypes.has(t));
    const eventsDeadline = Date.now() + 60_000;
    while (Date.now() < eventsDeadline && accepted.some((t) => !hasEnd(t.id))) await sleep(500);
    await events.stop();
    const creditsAfter = await api.credit();

    const generationsByPrompt = new Map<string, { outcome: string }[]>();
    for (const g of stack.simulator.generations()) {
      generationsByPrompt.set(g.prompt, [...(generationsByPrompt.get(g.prompt) ?? []), g]);
    }
    let lost = 0;
    let stuck = 0;
    let succeeded = 0;
    let failed = 0;
    let failedAsInjected = 0;
    let outcomeMismatch = 0;
    let callbacksMissing = 0;
    let callbackCodeWrong = 0;
    let callbacksRepeated = 0;
    let callbacksRefused = 0;
    let duplicated = 0;
    let eventsLost = 0;
    let eventsDuplicated = 0;
    let eventsConflicting = 0;
    for (const task of accepted) {
      // Queued; Submitted once it reached the upstream; one end. Repeats are at least once's duplicates.
      const types = events.seen.get(task.id) ?? [];
      const distinct = new Set(types);
      const ends = [...distinct].filter((t) => endDetailTypes.has(t));
      const reachedUpstream = (generationsByPrompt.get(task.prompt) ?? []).length > 0;
      eventsLost += Number(!distinct.has(taskEventTypes.queued)) + Number(ends.length === 0);
      eventsLost += Number(reachedUpstream && !distinct.has(taskEventTypes.submitted));
      eventsConflicting += Number(ends.length > 1);
      eventsDuplicated += types.length - distinct.size;
    }
    for (const task of accepted) {
      const record = records.get(task.id);
      const upstream = generationsByPrompt.get(task.prompt) ?? [];
      duplicated += Math.max(0, upstream.length - 1);
      const callback = received.get(task.id);
      callbacksRefused += callback?.refused ?? 0;
      if (!record || (record.successFlag === 1 && !record.response?.resultUrls?.length)) {
        lost++;
        continue;
      }
      if (record.successFlag === 0) {
        stuck++;
        continue;
      }
      if (record.successFlag === 1) succeeded++;
      else failed++;
      const injected = upstream[0]?.outcome === 'failed';
      if (record.successFlag === 2 && injected) failedAsInjected++;
      const expected = upstream[0]?.outcome === 'succeeded' ? 1 : 2;
      if (record.successFlag !== expected) outcomeMismatch++;
      if (!callback?.verified) callbacksMissing++;
      else {
        if (callback.verified > 1) callbacksRepeated++;
        if (callback.code !== (record.successFlag === 1 ? 200 : record.errorCode)) callbackCodeWrong++;
      }
    }
    const charged = creditsBefore - creditsAfter;
    const stats = stack.simulator.stats;
    const injectedFailures = [...generationsByPrompt.values()].filter(
      (g) => g[0]?.outcome === 'failed',
    ).length;
    return {
      'soak.tasks': figure(accepted.length, 'tasks'),
      'soak.refused-at-submit': figure(refusedAtSubmit, 'requests', { goal: '0' }),
      'soak.lost': figure(lost, 'tasks', { goal: '0' }),
      'soak.duplicated': figure(duplicated, 'upstream generations', { goal: '0' }),
      'soak.stuck': figure(stuck, 'tasks', { goal: '0' }),
      'soak.callbacks-missing': figure(callbacksMissing, 'tasks', { goal: '0' }),
      'soak.callbacks-unverified': figure(callbacksRefused, 'callbacks', { goal: '0' }),
      'soak.callbacks-wrong-code': figure(callbackCodeWrong, 'tasks', { goal: '0' }),
      'soak.callbacks-repeated': figure(callbacksRepeated, 'tasks'),
      'soak.succeeded': figure(succeeded, 'tasks'),
      'soak.failed': figure(failed, 'tasks'),
      'soak.injected-failures': figure(injectedFailures, 'generations'),
      'soak.failed-as-injected': figure(failedAsInjected, 'tasks'),
      'soak.outcome-mismatch': figure(outcomeMismatch, 'tasks', { goal: '0' }),
      'soak.credits-discrepancy': figure(charged - price * succeeded, 'credits', {
        goal: '0 (charged − refunded = price × succeeded)',
      }),
      'soak.events.lost': figure(eventsLost, 'events', { goal: '0' }),
      'soak.events.duplicated': figure(eventsDuplicated, 'events'),
      'soak.events.conflicting-ends': figure(eventsConflicting, 'tasks', { goal: '0' }),
      'soak.events.outage': figure(eventsOutageMs / 1000, 's'),
      'soak.events.outage-at': figure((eventsOutageAt ?? 0) / 1000, 's'),
      'soak.upstream-submits': figure(stats.submits, 'requests'),
      'soak.upstream-polls': figure(stats.polls, 'requests'),
      'soak.upstream-429s': figure(stats.refused['rate-limit'], 'responses'),
      'soak.worker-restarts': figure(1, 'restarts'),
      'soak.worker-restart-at': figure((restartedAt ?? 0) / 1000, 's'),
      'soak.worker-restart-abandoned': figure(abandoned, 'messages'),
      'soak.submit-duration': figure(submittedMs / 1000, 's'),
      'soak.duration': figure(doneMs / 1000, 's'),
    };
  } finally {
    await events.stop();
    sqs.destroy();
    await stack.stop();
    receiver.closeAllConnections();
    receiver.close();
  }
}

await runGroup('soak', soak);
