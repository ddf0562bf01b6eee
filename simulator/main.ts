import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { shapes } from './http';
import type { QuotaOption, SimulatorOptions } from './operations';
import { startSimulator } from './server';

/**
 * Runs the simulator alone:
 *   node --import tsx simulator/main.ts --port 8090 --latency-ms 2000-6000 --failure-rate 0.05 \
 *     --latency-distribution log-uniform --video-bytes 209715200 \
 *     --quota kie=20/10000 --quota vertex=50/60000 --kie-api-key dev --kie-webhook-secret s3cret \
 *     --retired-model veo-3.1-generate-preview
 * Every flag maps to a SimulatorOptions field; credentials may also come from the environment
 * (SIMULATOR_API_KEY, SIMULATOR_KIE_API_KEY, SIMULATOR_KIE_WEBHOOK_SECRET) to keep them out of `ps`.
 */

export function parseSimulatorArgs(argv: string[], env: NodeJS.ProcessEnv = {}): SimulatorOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'latency-ms': { type: 'string' },
      'latency-distribution': { type: 'string' },
      'video-bytes': { type: 'string' },
      'failure-rate': { type: 'string' },
      'rejection-rate': { type: 'string' },
      'rate-limit-rate': { type: 'string' },
      'server-error-rate': { type: 'string' },
      quota: { type: 'string', multiple: true },
      seed: { type: 'string' },
      'api-key': { type: 'string' },
      'kie-api-key': { type: 'string' },
      'kie-webhook-secret': { type: 'string' },
      'kie-error-status': { type: 'string' },
      'retired-model': { type: 'string', multiple: true },
    },
    strict: true,
  });
  const number = (name: string, value: string | undefined) => {
    if (value === undefined) return undefined;
    const parsed = Number(value);
    if (!Number.isFinite(parsed)) throw new Error(`--${name} must be a number`);
    return parsed;
  };
  const options: SimulatorOptions = {
    port: number('port', values.port) ?? 8090,
    host: values.host,
    failureRate: number('failure-rate', values['failure-rate']),
    rejectionRate: number('rejection-rate', values['rejection-rate']),
    rateLimitRate: number('rate-limit-rate', values['rate-limit-rate']),
    serverErrorRate: number('server-error-rate', values['server-error-rate']),
    seed: number('seed', values.seed),
    videoBytes: number('video-bytes', values['video-bytes']),
    apiKey: values['api-key'] ?? env.SIMULATOR_API_KEY,
    kieApiKey: values['kie-api-key'] ?? env.SIMULATOR_KIE_API_KEY,
    kieWebhookSecret: values['kie-webhook-secret'] ?? env.SIMULATOR_KIE_WEBHOOK_SECRET,
    retiredModels: values['retired-model'],
  };
  const latency = values['latency-ms'];
  if (latency !== undefined) {
    const range = /^(\d+)-(\d+)$/.exec(latency);
    const distribution = values['latency-distribution'];
    if (distribution !== undefined && distribution !== 'uniform' && distribution !== 'log-uniform')
      throw new Error('--latency-distribution is uniform or log-uniform');
    options.latencyMs = range
      ? { min: Number(range[1]), max: Number(range[2]), distribution }
      : number('latency-ms', latency);
  }
  const errorStatus = values['kie-error-status'];
  if (errorStatus !== undefined) {
    if (errorStatus !== 'http' && errorStatus !== 'envelope')
      throw new Error('--kie-error-status is http or envelope');
    options.kieErrorStatus = errorStatus;
  }
  if (values.quota?.length) {
    const quota: Partial<Record<(typeof shapes)[number], QuotaOption>> = {};
    for (const entry of values.quota) {
      const match = /^(\w+)=(\d+)\/(\d+)$/.exec(entry);
      const shape = shapes.find((s) => s === match?.[1]);
      if (!match || !shape)
        throw new Error(`--quota is SHAPE=LIMIT/WINDOW_MS with SHAPE one of ${shapes.join(', ')}`);
      quota[shape] = { limit: Number(match[2]), windowMs: Number(match[3]) };
    }
    options.quota = quota;
  }
  return options;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const simulator = await startSimulator(parseSimulatorArgs(process.argv.slice(2), process.env));
  console.log(`Veo simulator listening on ${simulator.url}`);
  console.log(`  gemini: ${simulator.url}/v1beta/models/{model}:predictLongRunning`);
  console.log(
    `  vertex: ${simulator.url}/v1/projects/{p}/locations/{r}/publishers/google/models/{model}:predictLongRunning (token: ${simulator.url}/token)`,
  );
  console.log(`  kie:    ${simulator.url}/api/v1/veo/generate`);
  console.log(
    `  outage: curl -X POST ${simulator.url}/_simulator/down (503 to everything), then .../_simulator/up`,
  );
  const stop = () => void simulator.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
