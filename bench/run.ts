import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bundleAll, repoRoot } from './bundle';
import { measureInit } from './init';
import { type Figure, figure, notMeasured, type Results, stats, versus } from './results';

/**
 * `npm run bench`: what our users pay for, side by side with the bare minimum (issue 8). Prints a table
 * per group and writes every figure to bench/results.json. Ratios are taken within this one run.
 */
const run = promisify(execFile);
const results: Results = {};
const initRuns = 15;

function table(group: string, keys: string[]): void {
  const rows = keys.map((key) => {
    const f = results[key] as Figure;
    const show = (n: number | null | undefined) => (n === null || n === undefined ? '' : String(n));
    return {
      figure: key,
      value: f.value === null ? 'not measured' : `${f.value} ${f.unit}`,
      baseline: f.baseline === undefined ? '' : `${f.baseline} ${f.unit}`,
      ratio: f.ratio === undefined ? '' : `${show(f.ratio)}×`,
      goal: f.goal ?? f.reason ?? '',
    };
  });
  console.log(`\n## ${group}`);
  console.table(rows);
}

function add(group: string, figures: Results): void {
  Object.assign(results, figures);
  table(group, Object.keys(figures));
}

// 1. bundle
const built = await bundleAll();
try {
  const bundle: Results = {};
  for (const b of built.functions) bundle[`bundle.${b.name}`] = figure(b.bytes / 1024, 'KB');
  const largest = Math.max(...built.functions.map((b) => b.bytes));
  bundle['bundle.largest'] = figure(largest / 1024, 'KB', { goal: '≤ 250 KB' });
  bundle['bundle.total'] = figure(built.functions.reduce((sum, b) => sum + b.bytes, 0) / 1024, 'KB');
  bundle['bundle.baseline'] = figure(built.baseline.bytes / 1024, 'KB');
  add('bundle (as built for Lambda: ESM, minified, no source map, SDK bundled)', bundle);

  // 2. init
  const samples = await measureInit([built.baseline, ...built.functions], initRuns);
  const base = stats(samples.get('baseline') ?? []);
  const init: Results = {
    'init.baseline.min': figure(base.min, 'ms'),
    'init.baseline.median': figure(base.median, 'ms'),
    'init.baseline.max': figure(base.max, 'ms'),
  };
  for (const b of built.functions) {
    const s = stats(samples.get(b.name) ?? []);
    init[`init.${b.name}.min`] = figure(s.min, 'ms');
    init[`init.${b.name}.median`] = versus(s.median, base.median, 'ms', '≤ 1.3× baseline');
    init[`init.${b.name}.max`] = figure(s.max, 'ms');
  }
  add(`init (cold import in a fresh node, ${initRuns} runs each, baseline = a DynamoDB client)`, init);
} finally {
  await rm(built.outDir, { recursive: true, force: true });
}

// 3. submit and 6. burst, each in its own process with its own local stack
const scratch = await mkdtemp(join(tmpdir(), 'veo-bench-results-'));
try {
  for (const [group, title] of [
    ['submit', 'submit (local stack, kie shape; baseline = an unknown route, 404 before auth)'],
    ['burst', 'burst (200 tasks, simulated kie quota 20 per 2 s)'],
  ] as const) {
    const out = join(scratch, `${group}.json`);
    await run(
      process.execPath,
      [
        '--no-warnings=ExperimentalWarning',
        '--import',
        'tsx',
        join(repoRoot, 'bench/stack-groups.ts'),
        group,
        out,
      ],
      { cwd: repoRoot, timeout: 240_000, maxBuffer: 64 * 1024 * 1024 },
    );
    add(title, JSON.parse(await readFile(out, 'utf8')) as Results);
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}

// 5. poll, 7. rss and 8. soak (bench/groups/), each in its own process too
const groupScratch = await mkdtemp(join(tmpdir(), 'veo-bench-groups-'));
try {
  for (const [group, title] of [
    [
      'poll',
      'poll (60 tasks, Gemini API shape, Veo latency 11 s – 6 min log-uniform ÷ 10, polls every 1 s ×1.5 to 6 s)',
    ],
    ['rss', 'rss (the poller alone in a child process, completing a 200 MiB video into S3, 3 runs)'],
    ['soak', 'soak (1,000 tasks, 10 % upstream failures, 5 % 429s, one worker restart, signed callbacks)'],
  ] as const) {
    const out = join(groupScratch, `${group}.json`);
    await run(
      process.execPath,
      [
        '--no-warnings=ExperimentalWarning',
        '--import',
        'tsx',
        join(repoRoot, `bench/groups/${group}.ts`),
        out,
      ],
      { cwd: repoRoot, timeout: 300_000, maxBuffer: 64 * 1024 * 1024 },
    );
    add(title, JSON.parse(await readFile(out, 'utf8')) as Results);
  }
} finally {
  await rm(groupScratch, { recursive: true, force: true });
}

// Not measured yet.
add('not yet measured', {
  calls: notMeasured(
    'calls/task',
    'not yet measured: needs an SDK middleware counting calls per service/operation',
  ),
});

await writeFile(join(repoRoot, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log('\nwritten to bench/results.json');
