import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../infra/bundling';
import { bundleAll, bundleEntry, deployed, entries, largestParts } from './bundle';
import { costFigures } from './cost';
import { callProviders, callsGroup } from './groups/calls';
import { measureInit } from './init';
import {
  type Figure,
  figure,
  formatResults,
  medianOfRepeats,
  type Results,
  round,
  stats,
  versus,
} from './results';
import { writeReport } from './write-report';

/**
 * `npm run bench`: what our users pay for, side by side with the bare minimum (issue 8). Prints a table
 * per group and writes every figure to bench/results.json. Ratios are taken within this one run.
 */
const run = promisify(execFile);
const results: Results = {};
/**
 * `npm run bench -- --only soak,hostile` runs only those groups (bundle, init, submit, calls, poll, burst, pool,
 * rss, soak, hostile) and merges their figures into the bench/results.json already there.
 */
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt < 0 ? undefined : new Set((process.argv[onlyAt + 1] ?? '').split(','));
const wanted = (group: string) => only === undefined || only.has(group);
const initRuns = 15;

function table(group: string, keys: string[]): void {
  const rows = keys.map((key) => {
    const f = results[key] as Figure;
    return {
      figure: key,
      value: `${f.value} ${f.unit}`,
      baseline: f.baseline === undefined ? '' : `${f.baseline} ${f.unit}`,
      ratio: f.ratio === undefined ? '' : `${f.ratio}×`,
      goal: f.goal ?? '',
    };
  });
  console.log(`\n## ${group}`);
  console.table(rows);
}

/** The soak's fault table (issue 14): one row per injected fault, the four figures that must read 0. */
function faultTable(): void {
  const columns = ['lost', 'stuck', 'double-charged', 'callbacks-missing', 'accepted', 'succeeded', 'failed'];
  const faults = new Set(
    Object.keys(results)
      .map((key) => /^soak\.fault\.([^.]+)\.lost$/.exec(key)?.[1])
      .filter((fault): fault is string => fault !== undefined),
  );
  console.log('\n## soak fault table (goal: 0 lost, stuck, double-charged, callbacks missing)');
  console.table(
    Object.fromEntries(
      [...faults].map((fault) => [
        fault,
        Object.fromEntries(columns.map((c) => [c, results[`soak.fault.${fault}.${c}`]?.value ?? ''])),
      ]),
    ),
  );
}

function add(group: string, figures: Results): void {
  Object.assign(results, figures);
  table(group, Object.keys(figures));
}

// 1. bundle and 2. init: as deployed (the SDK bundled, code split, infra/bundling.ts) and, for comparison,
// in one file per function and with the SDK left to the Lambda runtime; each against its own baseline built
// the same way.
const variants = [
  { prefix: '', variant: deployed, title: 'SDK bundled, code split, as deployed; kie provider' },
  {
    prefix: 'one-file.',
    variant: { ...deployed, split: false },
    title: 'one file per function, not split, comparison',
  },
  {
    prefix: 'sdk-runtime.',
    variant: { sdk: 'runtime', provider: 'kie' },
    title: 'SDK from the runtime, comparison',
  },
] as const;
const builds = [];
for (const v of wanted('bundle') || wanted('init') ? variants : []) {
  builds.push({ ...v, built: await bundleAll(v.variant) });
}
try {
  for (const { prefix, variant, title, built } of builds) {
    const bundle: Results = {};
    for (const b of built.functions) bundle[`bundle.${prefix}${b.name}`] = figure(b.bytes / 1024, 'KB');
    const largest = built.functions.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    bundle[`bundle.${prefix}largest`] = figure(largest.bytes / 1024, 'KB', { goal: '≤ 250 KB' });
    if (prefix === '') {
      // The same functions deployed with tracing off, where the X-Ray chunk is not loaded.
      const off = built.functions.reduce((a, b) => (b.tracingOffBytes > a.tracingOffBytes ? b : a));
      bundle['bundle.tracing-off.largest'] = figure(off.tracingOffBytes / 1024, 'KB');
    }
    bundle[`bundle.${prefix}total`] = figure(
      built.functions.reduce((sum, b) => sum + b.allBytes, 0) / 1024,
      'KB',
    );
    bundle[`bundle.${prefix}baseline`] = figure(built.baseline.bytes / 1024, 'KB');
    if (prefix === '') {
      // A Vertex AI deployment also carries google-auth-library in the functions that call the provider.
      const vertex = await bundleEntry('worker', entries.worker, `${built.outDir}-vertex`, {
        ...variant,
        provider: 'vertex',
      });
      bundle['bundle.vertex.worker'] = figure(vertex.bytes / 1024, 'KB', { goal: '≤ 250 KB' });
    }
    add(`bundle (ESM, minified, no source map; ${title})`, bundle);
    const parts = largestParts(largest, 6).map((p) => `${p.part} ${Math.round(p.bytes / 1024)} KB`);
    console.log(`largest bundle (${largest.name}): ${parts.join(', ')}`);
  }

  // Every variant's bundles in one round-robin, so a slow spell of the machine hits them all alike and
  // the variants' medians compare within the run, not only against their own baselines. The deployed
  // bundles also start with tracing off (the `tracing` deploy setting), where X-Ray is not loaded.
  const tracingOff = { POWERTOOLS_TRACE_ENABLED: 'false' };
  const samples = await measureInit(
    builds.flatMap(({ prefix, built }) => [
      ...[built.baseline, built.floor, built.designFloor, ...built.functions].map((b) => ({
        ...b,
        name: `${prefix}${b.name}`,
      })),
      ...(prefix === ''
        ? [built.floor, ...built.functions].map((b) => ({
            ...b,
            name: `tracing-off.${b.name}`,
            env: tracingOff,
          }))
        : []),
    ]),
    initRuns,
  );
  for (const { prefix, title, built } of builds) {
    const of = (name: string) => samples.get(`${prefix}${name}`) ?? [];
    const base = stats(of('baseline'));
    const init: Results = {
      [`init.${prefix}baseline.min`]: figure(base.min, 'ms'),
      [`init.${prefix}baseline.median`]: figure(base.median, 'ms'),
      [`init.${prefix}baseline.max`]: figure(base.max, 'ms'),
      // The libraries every function needs, nothing of ours (bench/floor-handler.ts): the goal's floor.
      [`init.${prefix}floor.median`]: versus(stats(of('floor')).median, base.median, 'ms'),
      // Of those, only what the design fixes: DynamoDB, SQS, zod (bench/design-floor-handler.ts).
      [`init.${prefix}floor.design.median`]: versus(stats(of('floor.design')).median, base.median, 'ms'),
    };
    const withTracingOff = prefix === '' ? ['', 'tracing-off.'] : [prefix];
    for (const variant of withTracingOff) {
      const from = (name: string) => samples.get(`${variant}${name}`) ?? [];
      if (variant === 'tracing-off.')
        init['init.tracing-off.floor.median'] = versus(stats(from('floor')).median, base.median, 'ms');
      for (const b of built.functions) {
        const s = stats(from(b.name));
        init[`init.${variant}${b.name}.min`] = figure(s.min, 'ms');
        init[`init.${variant}${b.name}.median`] = {
          // The goal is the default deployment's (tracing on); tracing off is the setting's figure.
          ...versus(s.median, base.median, 'ms', variant === 'tracing-off.' ? undefined : '≤ 1.3× baseline'),
          samples: from(b.name).map(round),
        };
        init[`init.${variant}${b.name}.max`] = figure(s.max, 'ms');
      }
    }
    add(
      `init (cold import in a fresh node, ${initRuns} runs each, baseline = a DynamoDB client; ${title})`,
      init,
    );
  }
} finally {
  for (const { built } of builds) {
    await rm(built.outDir, { recursive: true, force: true });
    await rm(`${built.outDir}-vertex`, { recursive: true, force: true });
  }
}

/**
 * Runs a group's script in a fresh Node process with a local stack of its own (the handlers read their
 * configuration at import) and returns the figures it wrote to the file named by its last argument.
 */
async function fromProcess(script: string, args: string[], timeoutMs: number): Promise<Results> {
  const scratch = await mkdtemp(join(tmpdir(), 'veo-bench-group-'));
  try {
    const out = join(scratch, 'results.json');
    await run(
      process.execPath,
      ['--no-warnings=ExperimentalWarning', '--import', 'tsx', join(repoRoot, script), ...args, out],
      { cwd: repoRoot, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
    );
    return JSON.parse(await readFile(out, 'utf8')) as Results;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The same, its figures added to this run's under `title`. */
async function addFromProcess(
  title: string,
  script: string,
  args: string[],
  timeoutMs: number,
): Promise<void> {
  add(title, await fromProcess(script, args, timeoutMs));
}

// 3. submit
if (wanted('submit'))
  await addFromProcess(
    'submit (local stack, kie shape; baseline = an unknown route, 404 before auth)',
    'bench/stack-groups.ts',
    ['submit'],
    240_000,
  );

// 4. AWS calls per task (bench/groups/calls.ts)
if (wanted('calls')) {
  const calls = await callsGroup();
  add('calls (AWS calls per task, happy path, warm functions; by service and operation)', calls);

  // 4b. cost of one task at AWS list prices, from what the calls group measured (bench/cost.ts)
  add(
    'cost (one task at AWS list prices, µUSD; baseline = the cheapest Veo task, Lite 4 s 720p)',
    costFigures(calls, callProviders),
  );
}

// 5. poll
if (wanted('poll')) {
  await addFromProcess(
    'poll (60 tasks polled alone, Veo latency 11 s – 6 min log-uniform ÷ 10, first poll at 1 s, then a quarter of the elapsed time, 1–3 s)',
    'bench/groups/poll.ts',
    [],
    300_000,
  );
  await addFromProcess(
    "poll with the push (60 tasks with the Gemini API shape's push, poll.push.*, after 20 not measured; the same latencies)",
    'bench/groups/poll.ts',
    ['--push'],
    300_000,
  );
}

// 6. burst. The scaled one swings from run to run (the one local process answers the 200 submits while it takes
// the first window), so it runs burstRepeats times: its figures are the median drain's run, its 429s and failures
// are counted over all (issue 17: "report a median of repeats").
const burstRepeats = 3;
if (wanted('burst')) {
  const repeats: Results[] = [];
  for (let i = 0; i < burstRepeats; i++)
    repeats.push(await fromProcess('bench/stack-groups.ts', ['burst'], 240_000));
  add(
    `burst (200 tasks, simulated kie quota 20 per 2 s; the median drain of ${burstRepeats} runs)`,
    medianOfRepeats(repeats, 'burst.drain', [
      'burst.upstream-429s',
      'burst.client-429s',
      'burst.failed',
      'burst.stuck',
    ]),
  );
}
if (wanted('burst'))
  await addFromProcess(
    'burst at the real window (100 tasks, simulated kie quota 20 per 10 s)',
    'bench/stack-groups.ts',
    ['burst-real'],
    300_000,
  );
if (wanted('burst'))
  await addFromProcess(
    'burst accepted before the worker starts (200 tasks, 20 per 2 s: what the one local process costs the drain)',
    'bench/stack-groups.ts',
    ['burst-queued'],
    240_000,
  );

// 6b. pool (issue 16): three upstreams behind one queue, a burst at their quotas, then a burst and a
// failover with time scaled down (bench/groups/pool.ts)
if (wanted('pool'))
  await addFromProcess(
    'pool at the published quotas (300 tasks on vertex + gemini + kie simulators)',
    'bench/groups/pool.ts',
    ['--real'],
    360_000,
  );
if (wanted('pool'))
  await addFromProcess(
    'pool (300 tasks on vertex + gemini + kie simulators, published quotas and a one-minute outage, time ÷ 5)',
    'bench/groups/pool.ts',
    [],
    360_000,
  );

// 7. rss and 8. soak
if (wanted('rss'))
  await addFromProcess(
    'rss (the poller alone in a child process, completing a 200 MiB video into S3, 3 runs)',
    'bench/groups/rss.ts',
    [],
    300_000,
  );
if (wanted('soak')) {
  await addFromProcess(
    'soak (1,000 tasks, 10 % upstream failures, 5 % 429s, one worker restart, signed callbacks)',
    'bench/groups/soak.ts',
    [],
    300_000,
  );

  await addFromProcess(
    'soak faults (20 tasks per fault, one after the other on one stack; lost / stuck / double-charged / callbacks-missing must be 0)',
    'bench/groups/soak-faults.ts',
    [],
    600_000,
  );
  faultTable();
}

// 9. hostile
if (wanted('hostile'))
  await addFromProcess(
    'hostile (5 hostile tasks among 50 normal ones, Gemini API shape: a 200 MP PNG, three 20 MB images trickled past the fetch deadline, a 2 KB+ callBackUrl)',
    'bench/groups/hostile.ts',
    [],
    300_000,
  );

const resultsFile = join(repoRoot, 'bench/results.json');
const kept: Results = only
  ? (JSON.parse(await readFile(resultsFile, 'utf8').catch(() => '{}')) as Results)
  : {};
await writeFile(resultsFile, formatResults({ ...kept, ...results }));
console.log('\nwritten to bench/results.json');
console.log(`report drawn to ${await writeReport()}`);
