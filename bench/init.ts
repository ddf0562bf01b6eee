import { execFile } from 'node:child_process';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * What functions/config.ts requires at cold start, as dummy values (nothing is called during init), and
 * what Lambda's runtime sets, so that Powertools and the X-Ray SDK start as deployed: tracing on.
 */
export const dummyEnv: Record<string, string> = {
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  TASKS_TABLE: 'bench-tasks',
  API_KEYS_TABLE: 'bench-keys',
  COUNTERS_TABLE: 'bench-counters',
  GENERATE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/generate',
  RESERVED_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/reserved',
  POLL_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/poll',
  NOTIFY_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/notify',
  VIDEO_BUCKET: 'bench-videos',
  PROVIDER: 'kie',
  KIE_API_KEY: 'bench',
  KIE_WEBHOOK_SECRET: 'bench',
  UPSTREAM_CALLBACK_URL: 'https://example.com/internal/upstream-callback',
  POWERTOOLS_LOG_LEVEL: 'ERROR',
  POWERTOOLS_METRICS_DISABLED: 'true',
};

const probe =
  'const t = performance.now(); await import(process.argv[1]); ' +
  'process.stdout.write(String(performance.now() - t)); process.exit(0);';

/** A bundle to start: its index.mjs, and what its environment sets beyond the deployed default. */
export interface InitSubject {
  name: string;
  file: string;
  env?: Record<string, string>;
}

/** Milliseconds from `import()` start to the module being evaluated, in a fresh Node process. */
async function initOnce({ file, env }: InitSubject): Promise<number> {
  const { stdout } = await run(
    process.execPath,
    ['--input-type=module', '-e', probe, pathToFileURL(file).href],
    {
      env: { PATH: process.env.PATH ?? '', ...dummyEnv, LAMBDA_TASK_ROOT: dirname(file), ...env },
      timeout: 30_000,
    },
  );
  const ms = Number(stdout.trim());
  if (!Number.isFinite(ms)) throw new Error(`init probe of ${file} printed ${JSON.stringify(stdout)}`);
  return ms;
}

/**
 * Cold init of every bundle, `runs` times each, one process at a time and round-robin across bundles,
 * so a noisy spell on the machine hits every bundle alike rather than one of them.
 */
export async function measureInit(bundles: InitSubject[], runs: number): Promise<Map<string, number[]>> {
  const samples = new Map(bundles.map((b) => [b.name, [] as number[]]));
  for (const b of bundles) await initOnce(b); // warm the file cache, not measured
  for (let i = 0; i < runs; i++) {
    for (const b of bundles) samples.get(b.name)?.push(await initOnce(b));
  }
  return samples;
}
