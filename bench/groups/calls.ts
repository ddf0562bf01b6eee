import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { invokedFunction, startLocalStack } from '../../local/stack';
import { onAwsCall } from '../aws-call-counter';
import { billedUnits, billingLines } from '../cost';
import { figure, type Results } from '../results';

/**
 * AWS calls per task on the happy path (issue 8): submit → worker → poll(s) → completion → callback
 * (`pipeline`, the goal's figure), then one record-info read (`record-info`, per read), counted
 * by an SDK middleware on every client the functions' composition builds (bench/aws-call-counter.ts),
 * by service and operation. The local stack's own event-source
 * polling (ReceiveMessage / DeleteMessage, Lambda's job when deployed) is not ours and not counted.
 * A first task warms every function up and is not counted: the figures are a warm container's.
 * Usage: node --import tsx bench/groups/calls.ts <vertex|gemini|kie> <results file> [simulated latency ms] [push]
 */

export const callProviders = ['vertex', 'gemini', 'kie'] as const;
type CallProvider = (typeof callProviders)[number];

/**
 * One provider's figures: `calls.<provider>.total`, `.upstream-polls` and one per `<Service>.<Operation>`.
 * With `latencyMs` 300 one poll finds the video done; with 1800 the first poll finds it running (`prefix`
 * tells the figures apart).
 */
async function countCalls(
  provider: CallProvider,
  latencyMs: number,
  prefix: string,
  webhooks = false,
): Promise<Results> {
  const counts = new Map<string, number>();
  // Per function (`<function>` and `<function>.<Service>.<Operation>`), and what the task's events cost.
  const byFunction = new Map<string, number>();
  let events = 0;
  // What the calls cost as deployed, by billing line (bench/cost.ts): the task queues' SQS requests and the
  // EventBridge events the local stand-in sends to its queue.
  const billed = new Map<string, number>();
  let counting = false;
  onAwsCall((service, operation, input) => {
    if (!counting) return;
    const key = `${service}.${operation}`;
    const fn = invokedFunction.getStore() ?? 'outside-a-function';
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + 1);
    byFunction.set(`${fn}.${key}`, (byFunction.get(`${fn}.${key}`) ?? 0) + 1);
    if (forEvents(service, operation, input)) events++;
    for (const [line, units] of Object.entries(billedUnits(service, operation, input)))
      billed.set(line, (billed.get(line) ?? 0) + units);
    // A transaction is billed per item, a batch read per key: counted apart (bench/cost.ts).
    const i = (input ?? {}) as {
      TransactItems?: unknown[];
      RequestItems?: Record<string, { Keys?: unknown[] }>;
    };
    if (i.TransactItems)
      counts.set(`${key}.items`, (counts.get(`${key}.items`) ?? 0) + i.TransactItems.length);
    if (i.RequestItems) {
      const keys = Object.values(i.RequestItems).reduce((n, r) => n + (r.Keys?.length ?? 0), 0);
      counts.set(`${key}.items`, (counts.get(`${key}.items`) ?? 0) + keys);
    }
    // BENCH_CALLS_TRACE=1 lists each call with what it names: where a count comes from.
    if (process.env.BENCH_CALLS_TRACE) console.error('call', key, describeCall(input));
    counts.set(key, (counts.get(key) ?? 0) + 1);
  });

  const received: string[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push(body);
      res.writeHead(200).end('ok');
    });
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  const callBackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/callback`;

  // The poll interval outlasts the generation, so one poll finds it done (every extra poll is counted
  // separately below); the deployed default rate limit applies.
  // Each function's invocations and their milliseconds, while counting: the task's GB-seconds (bench/cost.ts).
  const invocations = new Map<string, { count: number; ms: number }>();
  const stack = await startLocalStack({
    port: 0,
    provider,
    onInvocation: (fn, ms) => {
      if (!counting) return;
      const seen = invocations.get(fn) ?? { count: 0, ms: 0 };
      invocations.set(fn, { count: seen.count + 1, ms: seen.ms + ms });
    },
    simulatorLatencyMs: latencyMs,
    pollIntervalSeconds: 1,
    // A client whose requests come within the key cache's TTL of each other (the api's steady state):
    // pinned to its 300 s maximum, as the default 10 s made the count depend on how long the warm-up
    // took on a loaded machine. A client whose requests are further apart pays one GetItem more per request.
    // `webhooks`: the Gemini API's pushes, on by default for a deployed gemini upstream (off locally), or
    // Vertex AI's bucket notifications (set up in the user's Google Cloud project when deployed).
    environment: { API_KEY_CACHE_SECONDS: '300', ...(webhooks && { GEMINI_WEBHOOKS: 'true' }) },
    vertexPush: webhooks && provider === 'vertex',
    // The sweeper's scan (every 2 s locally, a minute deployed) is the deployment's, not a task's: left out,
    // or its calls would be counted and `quiet` would never see a quiet moment.
    schedules: [],
  });
  const upstreamPolls = () => stack.simulator.requests.filter((r) => r.kind === 'poll').length;
  try {
    const headers = { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' };
    let pipeline = 0;
    let pipelineEvents = 0;
    let pipelineByFunction = new Map<string, number>();
    const onPipelineDone = () => {
      pipeline = callsIn(counts);
      pipelineEvents = events;
      pipelineByFunction = new Map(byFunction);
    };
    const runTask = async (prompt: string) => {
      const before = received.length;
      const submitted = await fetch(`${stack.url}/api/v1/veo/generate`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ prompt, callBackUrl }),
      });
      const { data } = (await submitted.json()) as { data: { taskId: string } };
      const deadline = Date.now() + 90_000; // a loaded 2-core machine
      while (received.length === before && Date.now() < deadline) await sleep(50);
      if (received.length === before) throw new Error(`no callback for ${data.taskId}`);
      await quiet(counts);
      onPipelineDone();
      const record = await fetch(`${stack.url}/api/v1/veo/record-info?taskId=${data.taskId}`, { headers });
      const json = (await record.json()) as { data: { successFlag: number } };
      if (json.data.successFlag !== 1) throw new Error(`task ${data.taskId} did not succeed`);
      return data.taskId;
    };
    await runTask('calls warm-up');
    await quiet(counts);
    counts.clear();
    byFunction.clear();
    billed.clear();
    events = 0;
    const pollsBefore = upstreamPolls();
    counting = true;
    await runTask('calls counted');
    await quiet(counts);
    counting = false;

    const name = `calls.${prefix}${provider}`;
    const total = callsIn(counts);
    const results: Results = {
      // The task's own way through the system, submit to delivered callback: what every task costs.
      [`${name}.pipeline`]: figure(pipeline, 'calls/task', prefix === '' ? { goal: '≤ 12' } : {}),
      // Of those, what only the task's events (issue 19) cost: each event's publish (PutEvents; locally the
      // events queue's SendMessage) and the outbox message of a change that has no callback (queued,
      // submitted). The rest is the task's own work, set against the same goal.
      [`${name}.pipeline.events`]: figure(pipelineEvents, 'calls/task'),
      [`${name}.pipeline.without-events`]: figure(pipeline - pipelineEvents, 'calls/task'),
      // A client's read costs this each time, however often it polls (1 with the API key cached, as here;
      // 2 without).
      [`${name}.record-info`]: figure(total - pipeline, 'calls/read'),
      [`${name}.total`]: figure(total, 'calls/task'),
      [`${name}.upstream-polls`]: figure(upstreamPolls() - pollsBefore, 'polls/task'),
    };
    for (const [key, n] of [...counts].sort())
      results[`${name}.${key}`] = figure(n, key.endsWith('.items') ? 'items/task' : 'calls/task');
    // Pipeline and the one record-info read alike, as billed when deployed.
    for (const line of billingLines)
      results[`${name}.billed.${line}`] = figure(
        billed.get(line) ?? 0,
        line === 'events' ? 'events/task' : 'requests/task',
      );
    // Where each call of the pipeline is made: `fn.<function>` and `fn.<function>.<Service>.<Operation>`.
    for (const [key, n] of [...pipelineByFunction].sort())
      results[`${name}.fn.${key}`] = figure(n, 'calls/task');
    // Pipeline and the one record-info read alike: what a task's functions ran, for its Lambda bill.
    for (const [fn, { count, ms }] of [...invocations].sort()) {
      results[`${name}.lambda.${fn}.invocations`] = figure(count, 'invocations/task');
      results[`${name}.lambda.${fn}.ms`] = figure(ms, 'ms/task');
    }
    return results;
  } finally {
    await stack.stop();
    receiver.close();
  }
}

/** The calls counted (not the per-item tallies beside them). */
function callsIn(counts: Map<string, number>): number {
  return [...counts].reduce((sum, [key, n]) => (key.endsWith('.items') ? sum : sum + n), 0);
}

/**
 * Waits until no call has been made for a while: the task's trailing writes are done. Gives up after
 * `maxMs`, so a stray periodic caller makes a wrong count rather than a hung bench.
 */
async function quiet(counts: Map<string, number>, quietMs = 2500, maxMs = 30_000): Promise<void> {
  const total = () => callsIn(counts);
  let last = total();
  let since = Date.now();
  const giveUpAt = Date.now() + maxMs;
  while (Date.now() - since < quietMs) {
    if (Date.now() > giveUpAt) throw new Error(`AWS calls still going after ${maxMs} ms: not one task's`);
    await sleep(100);
    if (total() !== last) {
      last = total();
      since = Date.now();
    }
  }
}

/**
 * Whether a call is made only for the task's events: a publish (EventBridge's PutEvents, or the local
 * stand-in's SendMessage of an event envelope to the events queue), or a notify message carrying a change
 * that has no callback (queued, submitted). An end's notify message also carries the client's callback
 * and the Step Functions answer: it is the task's own.
 */
function forEvents(service: string, operation: string, input: unknown): boolean {
  if (service === 'EventBridge') return operation === 'PutEvents';
  if (service !== 'SQS') return false;
  // Several events at once (the local stand-in of one PutEvents with several entries).
  const entries = (input as { Entries?: { MessageBody?: string }[] } | undefined)?.Entries;
  if (operation === 'SendMessageBatch')
    return entries?.some((e) => e.MessageBody?.includes('"detail-type"')) ?? false;
  if (operation !== 'SendMessage') return false;
  const body = (input as { MessageBody?: unknown } | undefined)?.MessageBody;
  if (typeof body !== 'string') return false;
  const message = JSON.parse(body) as {
    'detail-type'?: string;
    event?: string;
    change?: { type?: string; rendition?: string };
  };
  if (message['detail-type'] !== undefined) return true;
  // Only a notify message names its callback's event: the generate message carrying `queued` is the work.
  if (message.event === undefined) return false;
  const type = message.change?.type;
  return (type === 'queued' || type === 'submitted') && message.change?.rendition === undefined;
}

function describeCall(input: unknown): string {
  const i = (input ?? {}) as Record<string, unknown>;
  const body = typeof i.MessageBody === 'string' ? i.MessageBody.slice(0, 120) : '';
  const items = Array.isArray(i.TransactItems)
    ? i.TransactItems.map((t: Record<string, { TableName?: string }>) =>
        Object.entries(t).map(([op, v]) => `${op}:${v.TableName ?? ''}`),
      ).join(' ')
    : '';
  return [
    i.TableName,
    i.QueueUrl,
    i.UpdateExpression,
    items,
    body,
    i.RequestItems && Object.keys(i.RequestItems),
  ]
    .filter(Boolean)
    .join(' | ');
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/**
 * Every provider shape, each in a process of its own (the handlers read their configuration at import),
 * plus the Gemini shape with one poll that finds the generation running, for what each extra poll costs
 * (`calls.per-running-poll`): real generations take 11 s to 6 minutes, several polls.
 */
export async function callsGroup(): Promise<Results> {
  const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
  const scratch = await mkdtemp(join(tmpdir(), 'veo-bench-calls-'));
  const results: Results = {};
  try {
    // gemini twice more: a poll that finds the video running, and with the webhooks a deployed gemini
    // upstream has on by default (`calls.push.gemini.*`: the push's message instead of the scheduled poll);
    // vertex with its bucket's notifications pushed (`calls.push.vertex.*`, VERTEX_PUSH_ACCOUNT).
    const runs: (readonly string[])[] = [
      ...callProviders.map((p) => [p, '300']),
      ['gemini', '1800'],
      ['gemini', '300', 'push'],
      ['vertex', '300', 'push'],
    ];
    for (const [provider = '', latency = '300', push = ''] of runs) {
      const out = join(scratch, `${provider}-${latency}${push}.json`);
      const script = fileURLToPath(import.meta.url);
      await promisify(execFile)(
        process.execPath,
        ['--no-warnings=ExperimentalWarning', '--import', 'tsx', script, provider, out, latency, push],
        // A stack start, two tasks and their quiet periods: ~20 s idle, several times that on a loaded
        // 2-core machine (120 s was once too little).
        { cwd: repoRoot, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
      );
      Object.assign(results, JSON.parse(await readFile(out, 'utf8')) as Results);
    }
    const value = (key: string) => results[key]?.value ?? Number.NaN;
    const extraPolls =
      value('calls.running-poll.gemini.upstream-polls') - value('calls.gemini.upstream-polls');
    const extraCalls = value('calls.running-poll.gemini.pipeline') - value('calls.gemini.pipeline');
    results['calls.per-running-poll'] = figure(extraCalls / extraPolls, 'calls/poll');
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [provider, out, latency = '300', push] = process.argv.slice(2);
  if (!out || !callProviders.includes(provider as CallProvider)) {
    throw new Error('usage: calls.ts <vertex|gemini|kie> <results file> [simulated latency ms] [push]');
  }
  const latencyMs = Number(latency);
  const webhooks = push === 'push';
  const prefix = webhooks ? 'push.' : latencyMs > 1000 ? 'running-poll.' : '';
  await writeFile(
    out,
    JSON.stringify(await countCalls(provider as CallProvider, latencyMs, prefix, webhooks)),
  );
  process.exit(0);
}
