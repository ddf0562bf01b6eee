import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ProviderName } from '../functions/core/ports';

/** `npm start [-- --provider simulator]`: the whole service on this machine, no AWS account, no Docker. */

// Checked before anything else is imported: on an older Node the imports themselves fail (node:sqlite),
// with a stack trace that does not say what is wrong.
const required = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    engines: { node: string };
  }
).engines.node;
if (!satisfies(process.versions.node, required)) {
  console.error(`veo-serverless needs Node ${required.replace(/^>=\s*/, '')} or later; this is Node ${process.versions.node}.
\`npm ci\` installs one into node_modules (the "node" package) and \`npm start\` uses it, unless scripts were
skipped (--ignore-scripts): run \`npm ci\` again, or install Node 22 (e.g. \`nvm install 22\`).`);
  process.exit(1);
}

const [{ providerNames }, { startLocalStack }, { defaultStackFile }] = await Promise.all([
  import('../functions/core/ports'),
  import('./stack'),
  import('./stack-file'),
]);

const { values } = parseArgs({
  options: {
    provider: { type: 'string', default: process.env.PROVIDER ?? 'simulator' },
    pool: { type: 'string', default: process.env.POOL },
    port: { type: 'string', default: process.env.PORT ?? '8080' },
    'data-dir': { type: 'string', default: process.env.DATA_DIR },
    'worker-delay': { type: 'string', default: process.env.WORKER_DELAY_SECONDS },
    events: { type: 'boolean', default: false },
    'vertex-push': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(`Usage: npm start -- [--provider ${providerNames.join('|')}] [--port 8080] [--data-dir .data]
                    [--worker-delay SECONDS] [--events] [--pool vertex,gemini,kie] [--vertex-push]

Every provider talks to the built-in simulator in that upstream's own wire format.
--pool P1,P2,...: a pool of upstreams instead of one provider, one simulator per upstream (each in its
provider's wire format, with its own credentials and published quota); the workers route across them.
Take one down (503 to everything, as an outage) with POST <its URL>/_simulator/down, back with .../up.
--worker-delay SECONDS: the worker takes a task only once it has waited that long in the queue, so a task
stays cancellable (POST /api/v1/veo/cancel) for that long; without it the worker takes it in milliseconds.
--events: print each task event as it arrives (the local stand-in for an EventBridge rule's SQS target).
--vertex-push (with --provider vertex): Vertex AI's push, as a deployment with vertexPushAccount has it: the
videos go to a bucket whose notifications the simulator pushes to the upstream-callback URL with Pub/Sub's
OIDC token, so tasks are not polled until their push comes.

Environment: PORT, DEV_API_KEY, DEV_WEBHOOK_SECRET, DATA_DIR, WORKER_DELAY_SECONDS, SIMULATOR_LATENCY_MS,
SIMULATOR_FAILURE_RATE, SIMULATOR_REJECTION_RATE, SIMULATOR_RATE_LIMIT_RATE (0-1), QUOTA_LIMIT and
QUOTA_WINDOW_SECONDS (the upstream submit quota the workers keep to).
Without --data-dir everything lives in memory and is gone when the stack stops.`);
  process.exit(0);
}

const workerDelaySeconds = Number(values['worker-delay'] ?? 0);
if (!Number.isFinite(workerDelaySeconds) || workerDelaySeconds < 0 || workerDelaySeconds > 900) {
  console.error(`--worker-delay must be a number of seconds from 0 to 900, got "${values['worker-delay']}"`);
  process.exit(1);
}

if (values['vertex-push'] && (values.provider !== 'vertex' || values.pool)) {
  console.error(
    '--vertex-push is the push of Vertex AI alone: use it with --provider vertex, not with --pool',
  );
  process.exit(1);
}

const pool = values.pool
  ?.split(',')
  .map((name) => name.trim())
  .filter(Boolean);
const unknown = pool?.filter((name) => !(providerNames as readonly string[]).includes(name));
if (pool && (pool.length === 0 || unknown?.length)) {
  console.error(
    `--pool is a comma-separated list of ${providerNames.join(', ')}, got "${values.pool}"${unknown?.length ? ` (unknown: ${unknown.join(', ')})` : ''}`,
  );
  process.exit(1);
}

const started = Date.now();
function rate(name: string): number | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : Number(value);
}

const stack = await startLocalStack({
  provider: values.provider,
  pool: pool as ProviderName[] | undefined,
  port: Number(values.port),
  dataDir: values['data-dir'],
  // Where the keys tool finds this stack (a test's own stack points it elsewhere, as the keys tool reads it).
  stackFile: process.env.VEO_LOCAL_STACK_FILE || defaultStackFile,
  devApiKey: process.env.DEV_API_KEY,
  devWebhookSecret: process.env.DEV_WEBHOOK_SECRET,
  simulatorLatencyMs: rate('SIMULATOR_LATENCY_MS'),
  simulator: {
    failureRate: rate('SIMULATOR_FAILURE_RATE'),
    rejectionRate: rate('SIMULATOR_REJECTION_RATE'),
    rateLimitRate: rate('SIMULATOR_RATE_LIMIT_RATE'),
  },
  // A new task's generate message waits in the queue (SQS DelaySeconds), so the task stays cancellable.
  queueDelaySeconds: { generate: workerDelaySeconds },
  vertexPush: values['vertex-push'],
}).catch((error: unknown) => {
  console.error(`veo-serverless could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

// A key the user chose stays out of the output; the curl reads it from the environment instead.
const shownKey = process.env.DEV_API_KEY ? '(from DEV_API_KEY)' : stack.apiKey;
const curlKey = process.env.DEV_API_KEY ? '$DEV_API_KEY' : stack.apiKey;
const shownSecret = process.env.DEV_WEBHOOK_SECRET ? '(from DEV_WEBHOOK_SECRET)' : stack.webhookSecret;
const upstreamLines = pool
  ? `
Upstreams (one simulator each; take one down: curl -X POST <URL>/_simulator/down, back: .../_simulator/up)
${Object.values(stack.upstreams)
  .map(
    (u) =>
      `  ${u.name.padEnd(14)}  ${u.url}${u.quota ? `   quota ${u.quota.limit} per ${u.quota.windowMs / 1000} s` : ''}`,
  )
  .join('\n')}
  e.g. curl -X POST ${Object.values(stack.upstreams)[0]?.url}/_simulator/down
`
  : '';
console.log(`
veo-serverless is running locally (${pool ? `pool: ${pool.join(', ')}` : `provider: ${values.provider}`}, ready in ${((Date.now() - started) / 1000).toFixed(1)} s)${
  workerDelaySeconds > 0
    ? `\n  The worker takes a task ${workerDelaySeconds} s after it was submitted: cancel it before then.`
    : ''
}

  Playground      ${stack.playgroundUrl}   (paste the API key there)
  API reference   ${stack.docsUrl}
  Base URL        ${stack.url}/api/v1
  API key         ${shownKey}
  Webhook secret  ${shownSecret}
${upstreamLines}
Try it:
  curl -s ${stack.url}/api/v1/veo/generate \\
    -H "Authorization: Bearer ${curlKey}" -H 'Content-Type: application/json' \\
    -d '{"prompt":"A dog playing in a park","model":"veo3_fast","aspectRatio":"16:9"}'
  curl -s "${stack.url}/api/v1/veo/record-info?taskId=<taskId>" -H "Authorization: Bearer ${curlKey}"${
    workerDelaySeconds > 0
      ? `\n  curl -s ${stack.url}/api/v1/veo/cancel -H "Authorization: Bearer ${curlKey}" \\
    -H 'Content-Type: application/json' -d '{"taskId":"<taskId>"}'`
      : ''
  }

More keys: npm run keys -- create --name NAME --credits 1000   (npm run keys -- --help)
Press Ctrl-C to stop.
`);

const eventPrinter = values.events ? printEvents() : undefined;

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log('\nStopping…');
    Promise.all([eventPrinter?.stop(), stack.stop()]).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

/** Whether a Node version satisfies a ">=major.minor[.patch]" range, the only form package.json uses. */
function satisfies(version: string, range: string): boolean {
  const parse = (v: string) =>
    v
      .replace(/^>=\s*/, '')
      .split('.')
      .map(Number);
  const have = parse(version);
  const need = parse(range);
  for (let i = 0; i < 3; i++) {
    const a = have[i] ?? 0;
    const b = need[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/** `--events`: reads the local events queue (EVENTS_QUEUE_URL, set by the stack) and prints each event. */
function printEvents() {
  let running = true;
  const done = (async () => {
    const { SQSClient, ReceiveMessageCommand, DeleteMessageCommand } = await import('@aws-sdk/client-sqs');
    const env = process.env;
    const sqs = new SQSClient({
      region: env.AWS_REGION,
      endpoint: env.SQS_ENDPOINT,
      credentials: {
        accessKeyId: env.AWS_ACCESS_KEY_ID ?? '',
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '',
      },
    });
    const QueueUrl = env.EVENTS_QUEUE_URL ?? '';
    console.log(`Printing task events from ${QueueUrl}`);
    while (running) {
      const { Messages = [] } = await sqs
        .send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }))
        .catch(() => ({ Messages: [] }));
      for (const message of Messages) {
        const event = JSON.parse(message.Body ?? '{}') as {
          'detail-type'?: string;
          time?: string;
          detail?: { taskId?: string; status?: string; rendition?: { slot?: string } };
        };
        const { taskId, rendition } = event.detail ?? {};
        console.log(
          `${event.time}  ${event['detail-type']}  ${taskId}${rendition?.slot ? ` ${rendition.slot}` : ''}`,
        );
        console.log(`  ${JSON.stringify(event.detail)}`);
        await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message.ReceiptHandle }));
      }
    }
    sqs.destroy();
  })();
  return {
    stop: async () => {
      running = false;
      await done.catch(() => undefined);
    },
  };
}
