import { writeFile } from 'node:fs/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { creditUpdate } from '../functions/adapters/dynamodb/credits';
import { hashApiKey } from '../functions/core/api-keys';
import { newTaskId } from '../functions/core/task/task';
import { startLocalStack } from '../local/stack';
import { busyShare, watchMachineCpu } from './machine-cpu';
import { quotaTimeline } from './quota-timeline';
import { figure, type Results, round, stats, versus } from './results';

/**
 * The groups that need the local stack, one per process: the handlers read their configuration once, at
 * import, so each configuration needs a fresh process (and a burst must not share the CPU with another).
 * Usage: node --import tsx bench/stack-groups.ts <submit|burst|burst-real|burst-queued> <results file>
 */

type Call = (method: string, path: string, body?: unknown) => Promise<number>;

function caller(url: string, apiKey: string): Call {
  return async (method, path, body) => {
    const headers: Record<string, string> = { authorization: `Bearer ${apiKey}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    await response.arrayBuffer();
    return response.status;
  };
}

interface Route {
  request: () => Promise<number>;
  expected: number;
}

/**
 * `perRoute` requests of each route from `concurrency` clients in parallel, each timed, the routes taken
 * in turn request by request, so that they are timed in the same state of the emulators and the
 * machine. Every status must be its route's `expected`.
 */
async function load<Name extends string>(
  routes: Record<Name, Route>,
  perRoute: number,
  concurrency: number,
): Promise<Record<Name, number[]>> {
  const names = Object.keys(routes) as Name[];
  const latencies = Object.fromEntries(names.map((name) => [name, []])) as unknown as Record<Name, number[]>;
  const total = perRoute * names.length;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const name = names[next++ % names.length] as Name;
        const { request, expected } = routes[name];
        const t = performance.now();
        const status = await request();
        latencies[name].push(performance.now() - t);
        if (status !== expected) throw new Error(`${name}: expected ${expected}, got ${status}`);
      }
    }),
  );
  return latencies;
}

async function submit(): Promise<Results> {
  const stack = await startLocalStack({
    port: 0,
    provider: 'kie',
    simulatorLatencyMs: 2000,
    devCredits: 1_000_000_000,
    environment: { RATE_LIMIT: 'off' },
    // Only the api runs: deployed, the worker, poller, notifier and sweeper are other Lambdas, so the tasks
    // a submit queues must not take this process's CPU from the submits being timed (nor the bare calls').
    consumers: [],
    schedules: [],
  });
  try {
    const call = caller(stack.url, stack.apiKey);
    let n = 0;
    const routes = {
      // The no-op baseline: a route the API does not have. The same gateway, handler and error envelope
      // answer it, before authentication, so it costs everything a request costs except the work.
      noop: () => call('GET', '/api/v1/bench/no-such-route'),
      // A reference between the two: authentication (one DynamoDB read) plus one more read.
      credit: () => call('GET', '/api/v1/chat/credit'),
      generate: () => call('POST', '/api/v1/veo/generate', { prompt: `bench submit ${n++}` }),
    };
    await routes.generate(); // a real task first: the bare calls copy its item
    const bare = await bareSubmit(stack.apiKey);
    // The submit, its bare calls and the no-op route in turn, request by request (load): DynamoDB Local
    // answers a run of writes more slowly the longer it lasts, so whichever ran second of the submit and
    // its bare calls timed one after the other was measured slower (up to 0.3× at c1).
    const submits = {
      noop: { request: routes.noop, expected: 404 },
      generate: { request: routes.generate, expected: 200 },
      bare: { request: bare, expected: 200 },
    };
    const credits = { credit: { request: routes.credit, expected: 200 } };
    const results: Results = {};
    for (const concurrency of [1, 16]) {
      const perRound = concurrency === 1 ? 100 : 160;
      const samples = {
        noop: [] as number[],
        credit: [] as number[],
        generate: [] as number[],
        bare: [] as number[],
      };
      await load(submits, 20, concurrency); // warm-up, not measured
      // Three rounds, alternating, so drift on a shared machine hits all of them alike.
      for (let round = 0; round < 3; round++) {
        samples.credit.push(...(await load(credits, perRound, concurrency)).credit);
        const timed = await load(submits, perRound, concurrency);
        samples.noop.push(...timed.noop);
        samples.generate.push(...timed.generate);
        samples.bare.push(...timed.bare);
      }
      const noop = stats(samples.noop);
      const credit = stats(samples.credit);
      const generate = stats(samples.generate);
      const bareCalls = stats(samples.bare);
      const c = `c${concurrency}`;
      // The limit: the same AWS calls made bare with the SDK, plus the no-op route (the gateway, the
      // handler and the envelope): what a submit cannot avoid.
      results[`submit.${c}.vs-bare`] = versus(
        generate.median,
        noop.median + bareCalls.median,
        'ms',
        '≤ 1.25× bare calls + no-op route',
      );
      results[`submit.${c}.bare-calls.p50`] = figure(bareCalls.median, 'ms', {
        samples: samples.bare.map(round),
      });
      // The raw latencies too, for the distribution in bench/report.html.
      results[`submit.${c}.p50`] = {
        ...versus(generate.median, noop.median, 'ms', '≤ 1.5× no-op route'),
        samples: samples.generate.map(round),
      };
      results[`submit.${c}.p99`] = versus(generate.p99, noop.p99, 'ms');
      results[`submit.${c}.credit.p50`] = versus(credit.median, noop.median, 'ms');
      results[`submit.${c}.noop.p50`] = figure(noop.median, 'ms', { samples: samples.noop.map(round) });
      results[`submit.${c}.noop.p99`] = figure(noop.p99, 'ms');
      results[`submit.${c}.requests`] = figure(samples.generate.length, 'requests');
    }
    return results;
  } finally {
    await stack.stop();
  }
}

/**
 * The bare calls a submit makes, with the SDK and nothing else: one TransactWriteItems with the same items
 * (a task item of a real task's size, conditional on its absence, and the credit update on the key) and
 * one SendMessage. Its message names no task, so the worker reads nothing and drops it.
 */
async function bareSubmit(apiKey: string): Promise<() => Promise<number>> {
  const env = process.env;
  const credentials = {
    accessKeyId: env.AWS_ACCESS_KEY_ID ?? '',
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '',
  };
  const dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient({ region: env.AWS_REGION, endpoint: env.DYNAMODB_ENDPOINT, credentials }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  const sqs = new SQSClient({ region: env.AWS_REGION, endpoint: env.SQS_ENDPOINT, credentials });
  const keyHash = hashApiKey(apiKey);
  // A real task written by the warm-up, as the template of the item's size and shape.
  const { Items } = await dynamo
    .send(
      new QueryCommand({
        TableName: env.TASKS_TABLE,
        IndexName: 'byKey',
        KeyConditionExpression: 'keyHash = :k',
        ExpressionAttributeValues: { ':k': keyHash },
        Limit: 1,
      }),
    )
    .catch(() => ({ Items: undefined }));
  const template = Items?.[0] ?? { keyHash, status: 'queued', paramJson: '{"prompt":"bench submit"}' };
  return async () => {
    // A random id, shaped like a real task's, so both writes land in the table alike.
    const taskId = newTaskId();
    await dynamo.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: env.TASKS_TABLE,
              Item: { ...template, taskId },
              ConditionExpression: 'attribute_not_exists(taskId)',
            },
          },
          creditUpdate(env.API_KEYS_TABLE ?? '', { keyHash, credits: 60 }, 'charge'),
        ],
      }),
    );
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: env.GENERATE_QUEUE_URL,
        MessageBody: JSON.stringify({ taskId: `${taskId}-none` }),
      }),
    );
    return 200;
  };
}

/**
 * A burst of tasks against the upstream's quota: `burst` is 200 tasks at kie.ai's 20 per 10 s scaled to 20
 * per 2 s (as test/e2e/quota-burst.test.ts) to keep the run short; `burst-real` is 100 tasks at the real
 * 20 per 10 s, reported as `burst.real.*`. The drain is the last accepted upstream submit minus the first.
 * `queued` (`burst.queued.*`, no goal) is `burst` with the whole burst accepted before the worker starts:
 * what the drain is when the one local process does not answer the submits while the worker takes the first
 * window (a deployed api answers each in its own instance).
 */
async function burst(group: 'burst' | 'burst-real' | 'burst-queued'): Promise<Results> {
  const real = group === 'burst-real';
  const queued = group === 'burst-queued';
  const tasks = real ? 100 : 200;
  const quota = { limit: 20, windowMs: real ? 10_000 : 2000 };
  const prefix = real ? 'burst.real' : queued ? 'burst.queued' : 'burst';
  const stack = await startLocalStack({
    ...(queued && { consumers: ['poll', 'notify'] }),
    port: 0,
    provider: 'kie',
    simulatorLatencyMs: 300,
    pollIntervalSeconds: 1,
    devCredits: 1_000_000_000,
    simulator: { quota: { kie: quota }, maxRecordedRequests: 5000 },
    // The upstream's own window: the margin we keep over it is the workers' (rate-window.ts).
    environment: {
      QUOTA_LIMIT: String(quota.limit),
      QUOTA_WINDOW_SECONDS: String(quota.windowMs / 1000),
      RATE_LIMIT: 'off',
    },
  });
  try {
    const url = stack.url;
    const headers = { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' };
    const start = performance.now();
    const startedAt = Date.now();
    const cpu = watchMachineCpu();
    const submits = await Promise.all(
      Array.from({ length: tasks }, async (_, i) => {
        const response = await fetch(`${url}/api/v1/veo/generate`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ prompt: `burst task ${i}` }),
        });
        const json = (await response.json()) as { data?: { taskId?: string } };
        return { status: response.status, taskId: json.data?.taskId, acceptedAt: Date.now() };
      }),
    );
    const acceptedAllMs = performance.now() - start;
    if (queued) stack.startConsumers(['generate', 'reserved']);
    const clientRefused = submits.filter((s) => s.status === 429).length;
    const submitsUpstream = () =>
      stack.simulator.requests.filter((r) => r.shape === 'kie' && r.kind === 'submit');
    const deadline = Date.now() + (real ? 240_000 : 150_000);
    // The drain is watched in the simulator's own count, not through the API: 200 clients asking for their
    // records every half second would take the CPU from the stack being measured (all on one machine); and
    // its count, not its request log, which the simulator's thread would copy over every time.
    while (stack.simulator.stats.submits < tasks && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
    }
    const pending = new Set(submits.flatMap((s) => (s.taskId ? [s.taskId] : [])));
    let failed = 0;
    let clientRefusedOnRecord = 0;
    const completedAt: number[] = [];
    while (pending.size > 0 && Date.now() < deadline) {
      await Promise.all(
        [...pending].map(async (taskId) => {
          const response = await fetch(`${url}/api/v1/veo/record-info?taskId=${taskId}`, { headers });
          const json = (await response.json()) as {
            data?: { successFlag?: number; errorCode?: number; completeTime?: number | null };
          };
          const flag = json.data?.successFlag ?? 0;
          if (flag === 0) return;
          pending.delete(taskId);
          completedAt.push(json.data?.completeTime ?? Date.now());
          if (flag !== 1) failed++;
          if (json.data?.errorCode === 429) clientRefusedOnRecord++;
        }),
      );
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 1000));
    }
    const doneMs = performance.now() - start;
    const upstream = submitsUpstream();
    const times = upstream
      .filter((r) => r.id !== undefined)
      .map((r) => r.at)
      .sort((a, b) => a - b);
    const drainMs = (times.at(-1) ?? 0) - (times[0] ?? 0);
    cpu.stop();
    const minimumMs = (tasks / quota.limit - 1) * quota.windowMs;
    const goal = '≤ 1.10× quota minimum, 0 upstream 429s';
    const upstream429s = figure(stack.simulator.stats.refused.quota, 'responses', { goal: '0' });
    // Seconds since the burst was sent, of every upstream submit and every task's completion: the drain
    // over time against the quota line in bench/report.html.
    const sinceStart = (at: number) => round((at - startedAt) / 1000);
    const timeline = quotaTimeline(prefix, times, quota);
    // How far apart the one local process answered the first window's worth of submits: no upstream submit
    // of those tasks can come sooner, so the first window's spread is at least this (a deployed api
    // answers each submit in its own instance).
    const accepted = submits.map((s) => s.acceptedAt).sort((x, y) => x - y);
    timeline[`${prefix}.first-window.accepted-spread`] = figure(
      (accepted[quota.limit - 1] ?? Number.NaN) - (accepted[0] ?? Number.NaN),
      'ms',
    );
    // How busy the machine (both cores, every process) was while the submits were being answered, over the
    // first window's upstream submits, and from the last submit answered to the drain's end: what the one
    // machine had left for the first window.
    const busy = (from: number | undefined, to: number | undefined) =>
      figure(busyShare(cpu.samples, from ?? Number.NaN, to ?? Number.NaN) * 100, '%');
    timeline[`${prefix}.cpu.acceptance`] = busy(startedAt, accepted.at(-1));
    timeline[`${prefix}.cpu.first-window`] = busy(times[0], times[quota.limit - 1]);
    timeline[`${prefix}.cpu.after-acceptance`] = busy(accepted.at(-1), times.at(-1));
    if (queued) {
      return {
        'burst.queued.ratio': versus(drainMs / 1000, minimumMs / 1000, 's'),
        'burst.queued.upstream-429s': figure(stack.simulator.stats.refused.quota, 'responses'),
        'burst.queued.failed': figure(failed + pending.size, 'tasks'),
        ...timeline,
      };
    }
    if (real) {
      return {
        'burst.real.ratio': versus(drainMs / 1000, minimumMs / 1000, 's', goal),
        'burst.real.upstream-429s': upstream429s,
        'burst.real.failed': figure(failed + pending.size, 'tasks', { goal: '0' }),
        ...timeline,
      };
    }
    return {
      'burst.drain': versus(drainMs / 1000, minimumMs / 1000, 's', goal),
      'burst.all-done': {
        ...versus(doneMs / 1000, minimumMs / 1000, 's'),
        samples: completedAt.map(sinceStart),
      },
      'burst.all-accepted': figure(acceptedAllMs / 1000, 's'),
      'burst.upstream-submits': figure(upstream.length, 'requests', { samples: times.map(sinceStart) }),
      'burst.quota.limit': figure(quota.limit, 'requests'),
      'burst.quota.window': figure(quota.windowMs / 1000, 's'),
      'burst.upstream-429s': upstream429s,
      'burst.client-429s': figure(clientRefused + clientRefusedOnRecord, 'responses', { goal: '0' }),
      'burst.failed': figure(failed, 'tasks', { goal: '0' }),
      'burst.stuck': figure(pending.size, 'tasks', { goal: '0' }),
      ...timeline,
    };
  } finally {
    await stack.stop();
  }
}

const [group, out] = process.argv.slice(2);
const bursts = ['burst', 'burst-real', 'burst-queued'] as const;
const isBurst = (name: string | undefined): name is (typeof bursts)[number] =>
  (bursts as readonly (string | undefined)[]).includes(name);
if (!out || (group !== 'submit' && !isBurst(group))) {
  throw new Error(`usage: stack-groups.ts <submit|${bursts.join('|')}> <results file>`);
}
const results = isBurst(group) ? await burst(group) : await submit();
await writeFile(out, JSON.stringify(results));
process.exit(0);
