import { parseArgs } from 'node:util';
import { providerNames } from '../functions/core/ports';
import { startLocalStack } from './stack';
import { defaultStackFile } from './stack-file';

/** `npm start [-- --provider simulator]`: the whole service on this machine, no AWS account, no Docker. */
const { values } = parseArgs({
  options: {
    provider: { type: 'string', default: process.env.PROVIDER ?? 'simulator' },
    port: { type: 'string', default: process.env.PORT ?? '8080' },
    'data-dir': { type: 'string', default: process.env.DATA_DIR },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(`Usage: npm start -- [--provider ${providerNames.join('|')}] [--port 8080] [--data-dir .data]

Every provider talks to the built-in simulator in that upstream's own wire format.

Environment: PORT, DEV_API_KEY, DEV_WEBHOOK_SECRET, DATA_DIR, SIMULATOR_LATENCY_MS,
SIMULATOR_FAILURE_RATE, SIMULATOR_REJECTION_RATE, SIMULATOR_RATE_LIMIT_RATE (0-1), QUOTA_LIMIT and
QUOTA_WINDOW_SECONDS (the upstream submit quota the workers keep to).
Without --data-dir everything lives in memory and is gone when the stack stops.`);
  process.exit(0);
}

const started = Date.now();
function rate(name: string): number | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : Number(value);
}

const stack = await startLocalStack({
  provider: values.provider,
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
}).catch((error: unknown) => {
  console.error(`veo-serverless could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

// A key the user chose stays out of the output; the curl reads it from the environment instead.
const shownKey = process.env.DEV_API_KEY ? '(from DEV_API_KEY)' : stack.apiKey;
const curlKey = process.env.DEV_API_KEY ? '$DEV_API_KEY' : stack.apiKey;
const shownSecret = process.env.DEV_WEBHOOK_SECRET ? '(from DEV_WEBHOOK_SECRET)' : stack.webhookSecret;
console.log(`
veo-serverless is running locally (provider: ${values.provider}, ready in ${((Date.now() - started) / 1000).toFixed(1)} s)

  Playground      ${stack.playgroundUrl}   (paste the API key there)
  API reference   ${stack.docsUrl}
  Base URL        ${stack.url}/api/v1
  API key         ${shownKey}
  Webhook secret  ${shownSecret}

Try it:
  curl -s ${stack.url}/api/v1/veo/generate \\
    -H "Authorization: Bearer ${curlKey}" -H 'Content-Type: application/json' \\
    -d '{"prompt":"A dog playing in a park","model":"veo3_fast","aspectRatio":"16:9"}'
  curl -s "${stack.url}/api/v1/veo/record-info?taskId=<taskId>" -H "Authorization: Bearer ${curlKey}"

More keys: npm run keys -- create --name NAME --credits 1000   (npm run keys -- --help)
Press Ctrl-C to stop.
`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log('\nStopping…');
    stack.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
