import { createHash } from 'node:crypto';
import { upstreamMarginMs } from '../functions/core/rate-window';
import { slotLatenessMs } from '../functions/core/stages/generate';
import type { Figure, Results } from './results';

/**
 * bench/report.html from bench/results.json: one section per group, each with a chart drawn here as inline
 * SVG and the group's figures as a table. No script, nothing loaded from anywhere: the page's own CSP says
 * so. Charts use the raw samples a run records (`samples` of a figure) and fall back to the figures alone
 * for a results.json written before the bench recorded them.
 */

interface Bar {
  label: string;
  value: number;
  /** A whisker from lo to hi (e.g. min–max of the runs). */
  lo?: number;
  hi?: number;
}

interface Rule {
  value: number;
  label: string;
}

interface Series {
  name: string;
  points: [number, number][];
  /** A step line (counts over time) rather than straight segments. */
  step?: boolean;
  dashed?: boolean;
}

const palette = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2'];
const width = 760;

export const groups = [
  { id: 'bundle', title: '1. Bundle size' },
  { id: 'init', title: '2. Cold init' },
  { id: 'submit', title: '3. Submit latency' },
  { id: 'calls', title: '4. AWS calls per task' },
  { id: 'poll', title: '5. Poll delay' },
  { id: 'burst', title: '6. Burst drain against the upstream quota' },
  { id: 'rss', title: '7. Poller memory' },
  { id: 'soak', title: '8. Soak' },
  { id: 'failover', title: '9. Failover: one upstream of a pool down mid-burst' },
  { id: 'hostile', title: '10. Hostile clients beside normal ones' },
  { id: 'cost', title: '11. AWS cost of one task' },
] as const;

export function renderReport(results: Results): string {
  const sections = groups.map(({ id, title }) => {
    const figures = Object.entries(results).filter(([key]) => key.startsWith(`${id}.`));
    const charts = figures.length === 0 ? [] : chartsFor(id, results);
    return `<section id="${id}">
<h2>${escapeHtml(title)}</h2>
${figures.length === 0 ? '<p>Not measured in this results.json.</p>' : ''}
${charts.join('\n')}
${table(figures)}
</section>`;
  });
  const style = `body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:${width + 40}px;color:#111}
h2{margin-top:2em;border-bottom:1px solid #ddd}figure{margin:1em 0}figcaption{color:#555;font-size:13px}
table{border-collapse:collapse;font-size:12px}td,th{border-bottom:1px solid #eee;padding:2px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}svg text{font:11px system-ui,sans-serif}`;
  const csp = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<title>veo-serverless benchmark</title>
<style>${style}</style>
</head>
<body>
<h1>veo-serverless benchmark</h1>
<p>Drawn from <code>bench/results.json</code> by <code>npm run bench:report</code> (<code>npm run bench</code> measures
anew and redraws it). What each group measures and how to read it: bench/README.md.</p>
${sections.join('\n')}
</body>
</html>
`;
}

function chartsFor(id: string, r: Results): string[] {
  switch (id) {
    case 'bundle':
      return [bundleChart(r)];
    case 'init':
      return [initChart(r)];
    case 'submit':
      return [submitChart(r)];
    case 'calls':
      return [callsChart(r)];
    case 'poll':
      return [pollChart(r), pushChart(r)];
    case 'burst':
      return [burstChart(r), ...realBurstCharts(r)];
    case 'rss':
      return [rssChart(r)];
    case 'soak':
      return [soakChart(r)];
    case 'failover':
      return [failoverChart(r)];
    case 'hostile':
      return [hostileChart(r)];
    case 'cost':
      return [costChart(r)];
    default:
      return [];
  }
}

const functionNames = ['api', 'worker', 'poller', 'notifier', 'upstream-callback', 'site'];
const has = (f: Figure | undefined): f is Figure => f !== undefined && Number.isFinite(f.value);

function bundleChart(r: Results): string {
  const rows: Bar[] = [];
  for (const [prefix, note] of [
    ['', 'as deployed'],
    ['one-file.', 'one file'],
    ['sdk-runtime.', 'runtime SDK'],
  ] as const) {
    for (const name of [...functionNames, 'baseline']) {
      const f = r[`bundle.${prefix}${name}`];
      if (has(f)) rows.push({ label: `${name} (${note})`, value: f.value });
    }
  }
  const vertex = r['bundle.vertex.worker'];
  if (has(vertex)) rows.push({ label: 'worker (as deployed, Vertex AI)', value: vertex.value });
  return figureOf(
    hbars(rows, 'KB', [{ value: 250, label: 'goal 250 KB' }]),
    'What a cold start of each function loads (ESM, minified; split: index.mjs and the chunks it imports); the baseline is a bare handler with a DynamoDB client.',
  );
}

function initChart(r: Results): string {
  const charts: string[] = [];
  // Each variant against the baseline built like it; tracing off starts the deployed bundles.
  for (const [prefix, basePrefix, note] of [
    ['', '', 'SDK bundled and code split, as deployed (tracing on)'],
    ['tracing-off.', '', 'as deployed with tracing off (no X-Ray SDK loaded)'],
    ['one-file.', 'one-file.', 'SDK bundled, one file per function (not split)'],
    ['sdk-runtime.', 'sdk-runtime.', 'SDK from the runtime'],
  ] as const) {
    const rows: Bar[] = [];
    const base = r[`init.${basePrefix}baseline.median`];
    if (has(base))
      rows.push({
        label: 'baseline',
        value: base.value,
        lo: r[`init.${basePrefix}baseline.min`]?.value,
        hi: r[`init.${basePrefix}baseline.max`]?.value,
      });
    for (const name of ['floor', 'floor.design', ...functionNames]) {
      const median = r[`init.${prefix}${name}.median`];
      if (!has(median)) continue;
      rows.push({
        label: name,
        value: median.value,
        lo: r[`init.${prefix}${name}.min`]?.value,
        hi: r[`init.${prefix}${name}.max`]?.value,
      });
    }
    const rules = has(base) ? [{ value: base.value * 1.3, label: 'goal 1.3× baseline' }] : [];
    if (rows.length > 1)
      charts.push(
        figureOf(
          hbars(rows, 'ms', rules),
          `Cold import in a fresh Node, ${note}: median, whiskers from min to max (the floors: median only).`,
        ),
      );
  }
  return charts.join('\n');
}

function submitChart(r: Results): string {
  const series: Series[] = [];
  for (const c of ['c1', 'c16']) {
    for (const [key, name] of [
      [`submit.${c}.p50`, `generate, ${c.slice(1)} at a time`],
      [`submit.${c}.noop.p50`, `no-op route, ${c.slice(1)} at a time`],
    ] as const) {
      const samples = r[key]?.samples;
      if (samples && samples.length > 0) series.push({ name, points: cdf(samples) });
    }
  }
  if (series.length > 0)
    return figureOf(
      lines(series, { x: 'ms (log scale)', y: 'share of requests', logX: true, yMax: 1 }),
      'Distribution of submit latencies (POST /veo/generate) against a route that does no work, each request timed by its client.',
    );
  const rows: Bar[] = [];
  for (const c of ['c1', 'c16']) {
    for (const [suffix, name] of [
      ['p50', 'generate p50'],
      ['p99', 'generate p99'],
      ['credit.p50', 'credit p50'],
      ['noop.p50', 'no-op p50'],
      ['noop.p99', 'no-op p99'],
    ] as const) {
      const f = r[`submit.${c}.${suffix}`];
      if (has(f)) rows.push({ label: `${name}, ${c.slice(1)} at a time`, value: f.value });
    }
  }
  return figureOf(
    hbars(rows, 'ms', []),
    'Submit latency quantiles (this results.json has no raw samples; npm run bench records them for the full distribution).',
  );
}

function callsChart(r: Results): string {
  const rows: Bar[] = [];
  for (const provider of ['kie', 'gemini', 'vertex', 'running-poll.gemini']) {
    const f = r[`calls.${provider}.pipeline`];
    if (has(f)) rows.push({ label: provider, value: f.value });
  }
  return figureOf(
    hbars(rows, 'calls/task', [{ value: 12, label: 'goal 12' }]),
    'AWS calls one task costs, submit to callback, by provider.',
  );
}

function pollChart(r: Results): string {
  const delays = r['poll.delay.p50']?.samples;
  if (delays && delays.length > 0) {
    return figureOf(
      histogram(delays, 'ms'),
      `Delay from the upstream finishing to our record saying so, ${delays.length} tasks (time scaled ${r['poll.scale']?.value ?? ''}× faster than Veo).`,
    );
  }
  const rows: Bar[] = [];
  for (const [key, label] of [
    ['poll.delay.p50', 'delay p50'],
    ['poll.delay.p95', 'delay p95'],
    ['poll.delay.max', 'delay max'],
    ['poll.delay.schedule.p50', 'schedule share p50'],
    ['poll.delay.schedule.p95', 'schedule share p95'],
    ['poll.delay.completion.p50', 'completion share p50'],
    ['poll.delay.completion.p95', 'completion share p95'],
  ] as const) {
    const f = r[key];
    if (has(f)) rows.push({ label, value: f.value });
  }
  return figureOf(
    hbars(rows, 'ms', []),
    'Poll delay quantiles (this results.json has no raw samples; npm run bench records them for the histogram).',
  );
}

/** The Gemini API shape's push (`poll.push.*`) against polling alone (`poll.*`): delay from done to our record. */
function pushChart(r: Results): string {
  const polled = r['poll.delay.p50']?.samples;
  const pushed = r['poll.push.delay.p50']?.samples;
  if (polled?.length && pushed?.length) {
    return figureOf(
      lines(
        [
          { name: `polling alone, ${polled.length} tasks`, points: cdf(polled) },
          { name: `with the upstream's push, ${pushed.length} tasks`, points: cdf(pushed) },
        ],
        { x: 'ms (log scale)', y: 'share of tasks', logX: true, yMax: 1 },
      ),
      "Delay from the upstream finishing to our record saying so: the upstream's push against polling alone (with the push, a task is polled only when its push asks).",
    );
  }
  const rows: Bar[] = [];
  for (const q of ['p50', 'p95'] as const) {
    for (const [prefix, label] of [
      ['poll', 'polling alone'],
      ['poll.push', "with the upstream's push"],
    ] as const) {
      const f = r[`${prefix}.delay.${q}`];
      if (has(f)) rows.push({ label: `${label}, ${q}`, value: f.value });
    }
  }
  return figureOf(
    hbars(rows, 'ms', []),
    "Delay from the upstream finishing to our record saying so: the upstream's push against polling alone, p50 and p95 (with the push, a task is polled only when its push asks).",
  );
}

function burstChart(r: Results): string {
  const limit = r['burst.quota.limit']?.value ?? 20;
  const windowS = r['burst.quota.window']?.value ?? 2;
  const submits = r['burst.upstream-submits'];
  const done = r['burst.all-done'];
  const drain = r['burst.drain'];
  const series: Series[] = [];
  const submitTimes = submits?.samples;
  const doneTimes = done?.samples;
  if (submitTimes && submitTimes.length > 0) {
    series.push({ name: 'upstream submits', points: cumulative(submitTimes), step: true });
    if (doneTimes && doneTimes.length > 0)
      series.push({ name: 'tasks done', points: cumulative(doneTimes), step: true });
  } else if (has(submits) && has(drain)) {
    // Only the end points are in an older results.json: first and last upstream submit.
    series.push({
      name: 'upstream submits, first to last (raw times not recorded)',
      points: [
        [0, 1],
        [drain.value, submits.value],
      ],
      dashed: true,
    });
  }
  const first = submitTimes?.length ? Math.min(...submitTimes) : 0;
  const end = Math.max(done?.value ?? 0, drain?.value ?? 0, ...(submitTimes ?? []), ...(doneTimes ?? []));
  const tasks = Math.max(submits?.value ?? 0, doneTimes?.length ?? 0);
  const quota: [number, number][] = [];
  // Up to the window that would let every submit through.
  for (let w = 0; first + w * windowS <= end && limit * w < tasks; w++) {
    quota.push([first + w * windowS, limit * (w + 1)], [first + (w + 1) * windowS, limit * (w + 1)]);
  }
  series.unshift({ name: `quota: ${limit} per ${windowS} s`, points: quota, dashed: true });
  return figureOf(
    lines(series, { x: 's since the burst was sent', y: 'count' }),
    `${r['burst.upstream-submits'] ? 'A burst of tasks drained into the upstream' : 'Burst'}: the workers may not submit above the quota line.`,
  );
}

/**
 * The scaled burst (`burst.*`, 20 per 2 s) beside the one at the real window (`burst.real.*`, 20 per 10 s):
 * the drain against the quota minimum, what the time above the minimum went to (the first window's
 * spread, carried into every later window once, and the rest: slots reused late), and how late a slot was
 * reused after its window.
 */
function realBurstCharts(r: Results): string[] {
  const runs = [
    { label: '2 s window', drain: r['burst.drain'], prefix: 'burst' },
    { label: '10 s window', drain: r['burst.real.ratio'], prefix: 'burst.real' },
    { label: '2 s, accepted first', drain: r['burst.queued.ratio'], prefix: 'burst.queued' },
  ];
  const ratios: Bar[] = [];
  const overMinimum: Bar[] = [];
  const reuse: Bar[] = [];
  const cpu: Bar[] = [];
  for (const { label, drain, prefix } of runs) {
    for (const [stretch, named] of [
      ['acceptance', 'submits being answered'],
      ['first-window', "first window's submits"],
      ['after-acceptance', 'after the last answer'],
    ] as const) {
      const f = r[`${prefix}.cpu.${stretch}`];
      if (has(f)) cpu.push({ label: `${label}: ${named}`, value: f.value });
    }
    if (has(drain) && drain.ratio !== undefined) ratios.push({ label, value: drain.ratio });
    const spread = r[`${prefix}.first-window.spread`];
    if (has(drain) && drain.baseline !== undefined && has(spread)) {
      const spreadS = spread.value / 1000;
      const late = drain.value - drain.baseline - spreadS;
      overMinimum.push(
        { label: `${label}: first window's spread`, value: round3(spreadS) },
        { label: `${label}: slots reused late`, value: round3(Math.max(0, late)) },
      );
    }
    const min = r[`${prefix}.slot-reuse.min`];
    const max = r[`${prefix}.slot-reuse.max`];
    for (const q of ['p50', 'p95'] as const) {
      const f = r[`${prefix}.slot-reuse.${q}`];
      if (!has(f)) continue;
      // The whisker (min to max) on the median's bar; below 0 the upstream counted one too many (a 429).
      const whisker =
        q === 'p50' && has(min) && has(max) ? { lo: Math.max(0, min.value), hi: max.value } : {};
      reuse.push({ label: `${label}, ${q}`, value: f.value, ...whisker });
    }
  }
  const charts: string[] = [];
  if (ratios.length > 0)
    charts.push(
      figureOf(
        hbars(ratios, '×', [{ value: 1.1, label: 'goal 1.10×' }]),
        "Drain, first to last upstream submit, over the quota minimum (its full windows): the burst at 20 per 2 s and the one at kie.ai's real 20 per 10 s.",
      ),
    );
  if (overMinimum.length > 0)
    charts.push(
      figureOf(
        hbars(overMinimum, 's', []),
        "Where the drain's time above the quota minimum went: the first window's submits spread out (carried into every later window once), and the rest, slots reused after their window ended.",
      ),
    );
  if (cpu.length > 0)
    charts.push(
      figureOf(
        hbars(cpu, '%', []),
        "How busy the machine was (both cores, every process: the stack, DynamoDB Local, the simulator, the clients) while the submits were being answered, over the first window's upstream submits, and from the last answer to the drain's end.",
      ),
    );
  if (reuse.length > 0)
    charts.push(
      figureOf(
        hbars(reuse, 'ms', [{ value: upstreamMarginMs, label: `margin ${upstreamMarginMs} ms` }]),
        `How long after a submit's window ended the submit reusing its slot arrived: median (whisker min to max) and p95; ideally the workers' margin over the upstream's window (rate-window.ts), every millisecond above it lost.${lateSlots(runs.map(({ label, prefix }) => ({ label, late: r[`${prefix}.slot-reuse.late`] })))}`,
      ),
    );
  return charts;
}

/** The slots reused late (a reserved slot delivered late or missed), where the results have them. */
function lateSlots(runs: { label: string; late: Figure | undefined }[]): string {
  const parts = runs.flatMap(({ label, late }) =>
    has(late) && late.baseline !== undefined ? [`${label} ${late.value} of ${late.baseline}`] : [],
  );
  return parts.length === 0
    ? ''
    : ` Reused more than ${upstreamMarginMs + slotLatenessMs} ms after their window (a reserved slot delivered late or missed, or a submit slow to go out): ${parts.join(', ')}.`;
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

function rssChart(r: Results): string {
  const rows: Bar[] = [];
  for (const [key, label] of [
    ['rss.peak-growth', 'peak growth, largest run'],
    ['rss.peak-growth.median', 'peak growth, median run'],
    ['rss.peak-growth.min', 'peak growth, smallest run'],
    ['rss.peak-growth.since-first', 'peak since the first baseline'],
  ] as const) {
    const f = r[key];
    if (has(f)) rows.push({ label, value: f.value });
  }
  return figureOf(
    hbars(rows, 'MiB', [{ value: 64, label: 'goal 64 MiB' }]),
    `Resident memory of the poller completing a ${r['rss.video-size']?.value ?? ''} MiB video.`,
  );
}

function soakChart(r: Results): string {
  const rows: Bar[] = [];
  for (const [key, label] of [
    ['soak.succeeded', 'succeeded'],
    ['soak.failed', 'failed'],
    ['soak.failed-as-injected', 'failed where a failure was injected'],
    ['soak.lost', 'lost'],
    ['soak.duplicated', 'generated twice upstream'],
    ['soak.stuck', 'stuck'],
    ['soak.callbacks-missing', 'callback missing'],
    ['soak.outcome-mismatch', 'outcome other than drawn'],
  ] as const) {
    const f = r[key];
    if (has(f)) rows.push({ label, value: f.value });
  }
  return figureOf(
    hbars(rows, 'tasks', []),
    `What became of ${r['soak.tasks']?.value ?? ''} tasks through upstream failures, 429s and a worker restart; every bar below "failed where a failure was injected" should be 0.`,
  );
}

/** Horizontal bars, one per row, with optional whiskers and vertical reference rules. */
function failoverChart(r: Results): string {
  const rows: Bar[] = [];
  for (const [key, f] of Object.entries(r)) {
    const upstream = /^failover\.(.+)\.tasks$/.exec(key)?.[1];
    if (upstream && has(f)) rows.push({ label: upstream, value: f.value });
  }
  const down = r['failover.outage'];
  return figureOf(
    hbars(rows, 'tasks', []),
    `Where the burst's tasks went while one upstream was down for ${has(down) ? fmt(down.value) : '?'} s; failed, generated twice and polled elsewhere are in the table (goal 0).`,
  );
}

function hostileChart(r: Results): string {
  const rows: Bar[] = [];
  for (const [key, label] of [
    ['hostile.normal-succeeded', 'normal tasks succeeded'],
    ['hostile.normal-failed', 'normal tasks failed'],
    ['hostile.hostile-4xx', 'hostile tasks refused (4xx)'],
    ['hostile.stuck', 'tasks stuck'],
  ] as const) {
    const f = r[key];
    if (has(f)) rows.push({ label, value: f.value });
  }
  return figureOf(
    hbars(rows, 'tasks', []),
    'Normal tasks beside hostile ones (huge and slow inputs, private addresses): the normal ones all succeed.',
  );
}

function costChart(r: Results): string {
  const rows: Bar[] = [];
  for (const provider of ['kie', 'gemini', 'vertex']) {
    const f = r[`cost.${provider}.per-task`];
    if (has(f)) rows.push({ label: provider, value: f.value });
  }
  const cheapest = r['cost.per-task']?.baseline;
  const rules = cheapest ? [{ value: cheapest * 0.001, label: 'goal 0.1 % of a Veo task' }] : [];
  return figureOf(
    hbars(rows, 'µUSD', rules),
    'AWS cost of one task at list prices (Lambda, API Gateway, SQS, EventBridge, DynamoDB, S3), by upstream.',
  );
}

function hbars(rows: Bar[], unit: string, rules: Rule[]): string {
  const labelWidth = 230;
  const plot = width - labelWidth - 70;
  const rowHeight = 20;
  const top = 18;
  const height = top + rows.length * rowHeight + 10;
  const max = Math.max(...rows.flatMap((b) => [b.value, b.hi ?? 0]), ...rules.map((l) => l.value), 1) * 1.05;
  const x = (v: number) => labelWidth + (v / max) * plot;
  const parts: string[] = [];
  rows.forEach((bar, i) => {
    const y = top + i * rowHeight;
    parts.push(
      `<text x="${labelWidth - 6}" y="${y + 13}" text-anchor="end">${escapeHtml(bar.label)}</text>`,
      `<rect class="mark" x="${labelWidth}" y="${y + 3}" width="${fmt(x(bar.value) - labelWidth)}" height="${rowHeight - 6}" fill="${palette[0]}" data-value="${bar.value}"><title>${escapeHtml(`${bar.label}: ${bar.value} ${unit}`)}</title></rect>`,
    );
    if (bar.lo !== undefined && bar.hi !== undefined)
      parts.push(
        `<line x1="${fmt(x(bar.lo))}" x2="${fmt(x(bar.hi))}" y1="${y + 10}" y2="${y + 10}" stroke="#111"/>`,
      );
    parts.push(
      `<text x="${fmt(x(Math.max(bar.value, bar.hi ?? 0)) + 4)}" y="${y + 13}">${bar.value} ${escapeHtml(unit)}</text>`,
    );
  });
  for (const rule of rules) {
    parts.push(
      `<line x1="${fmt(x(rule.value))}" x2="${fmt(x(rule.value))}" y1="12" y2="${height - 6}" stroke="${palette[1]}" stroke-dasharray="4 3"/>`,
      `<text x="${fmt(x(rule.value))}" y="10" text-anchor="middle" fill="${palette[1]}">${escapeHtml(rule.label)}</text>`,
    );
  }
  return svg(height, parts);
}

/** Line (or step) series on linear or log-x axes, with a legend. */
function lines(series: Series[], axes: { x: string; y: string; logX?: boolean; yMax?: number }): string {
  const left = 50;
  const right = 20;
  const top = 10;
  const plotHeight = 260;
  const legend = series.length * 16 + 10;
  const height = top + plotHeight + 36 + legend;
  const all = series.flatMap((s) => s.points);
  const xs = all.map(([px]) => px);
  const tx = (v: number) => (axes.logX ? Math.log10(Math.max(v, 1e-3)) : v);
  const xMin = axes.logX ? Math.min(...xs.map(tx)) : 0;
  const xMax = Math.max(...xs.map(tx), xMin + 1e-9);
  const yMax = axes.yMax ?? Math.max(...all.map(([, py]) => py), 1) * 1.05;
  const X = (v: number) => left + ((tx(v) - xMin) / (xMax - xMin)) * (width - left - right);
  const Y = (v: number) => top + plotHeight - (v / yMax) * plotHeight;
  const parts: string[] = [
    `<line x1="${left}" x2="${width - right}" y1="${top + plotHeight}" y2="${top + plotHeight}" stroke="#999"/>`,
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotHeight}" stroke="#999"/>`,
  ];
  const xTicks = axes.logX ? decades(xMin, xMax) : ticks(xMin, xMax);
  for (const t of xTicks) {
    const v = axes.logX ? 10 ** t : t;
    const px = left + ((t - xMin) / (xMax - xMin)) * (width - left - right);
    parts.push(`<text x="${fmt(px)}" y="${top + plotHeight + 14}" text-anchor="middle">${fmtTick(v)}</text>`);
  }
  for (const t of ticks(0, yMax)) {
    parts.push(`<text x="${left - 4}" y="${fmt(Y(t) + 4)}" text-anchor="end">${fmtTick(t)}</text>`);
  }
  parts.push(
    `<text x="${(left + width - right) / 2}" y="${top + plotHeight + 30}" text-anchor="middle">${escapeHtml(axes.x)}</text>`,
    `<text x="12" y="${top + plotHeight / 2}" transform="rotate(-90 12 ${top + plotHeight / 2})" text-anchor="middle">${escapeHtml(axes.y)}</text>`,
  );
  series.forEach((s, i) => {
    const color = palette[i % palette.length];
    const points = s.step ? stepped(s.points) : s.points;
    const d = points.map(([px, py], j) => `${j === 0 ? 'M' : 'L'}${fmt(X(px))} ${fmt(Y(py))}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(
      `<path class="mark" d="${d}" fill="none" stroke="${color}" stroke-width="2"${dash} data-points="${s.points.length}"><title>${escapeHtml(s.name)}</title></path>`,
    );
    const ly = top + plotHeight + 44 + i * 16;
    parts.push(
      `<line x1="${left}" x2="${left + 24}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<text x="${left + 30}" y="${ly + 4}">${escapeHtml(s.name)}</text>`,
    );
  });
  return svg(height, parts);
}

function histogram(values: number[], unit: string): string {
  const bins = 20;
  const max = Math.max(...values, 1);
  const size = niceStep(max / bins);
  const counts = new Array<number>(Math.ceil(max / size) + 1).fill(0);
  for (const v of values) counts[Math.floor(v / size)] = (counts[Math.floor(v / size)] ?? 0) + 1;
  const left = 40;
  const top = 10;
  const plotHeight = 220;
  const height = top + plotHeight + 40;
  const barWidth = (width - left - 20) / counts.length;
  const most = Math.max(...counts, 1);
  const parts: string[] = [
    `<line x1="${left}" x2="${width - 20}" y1="${top + plotHeight}" y2="${top + plotHeight}" stroke="#999"/>`,
  ];
  counts.forEach((count, i) => {
    const h = (count / most) * plotHeight;
    const label = `${fmtTick(i * size)}–${fmtTick((i + 1) * size)} ${unit}: ${count}`;
    parts.push(
      `<rect class="mark" x="${fmt(left + i * barWidth + 1)}" y="${fmt(top + plotHeight - h)}" width="${fmt(barWidth - 2)}" height="${fmt(h)}" fill="${palette[0]}" data-value="${count}"><title>${escapeHtml(label)}</title></rect>`,
    );
    if (i % Math.ceil(counts.length / 10) === 0)
      parts.push(
        `<text x="${fmt(left + i * barWidth)}" y="${top + plotHeight + 14}" text-anchor="middle">${fmtTick(i * size)}</text>`,
      );
  });
  for (const t of ticks(0, most))
    parts.push(
      `<text x="${left - 4}" y="${fmt(top + plotHeight - (t / most) * plotHeight + 4)}" text-anchor="end">${t}</text>`,
    );
  parts.push(
    `<text x="${width / 2}" y="${top + plotHeight + 32}" text-anchor="middle">${escapeHtml(unit)} (tasks per bin)</text>`,
  );
  return svg(height, parts);
}

function table(figures: [string, Figure][]): string {
  if (figures.length === 0) return '';
  const rows = figures.map(([key, f]) => {
    const cells = [
      escapeHtml(key),
      `${f.value} ${escapeHtml(f.unit)}`,
      f.baseline === undefined ? '' : `${f.baseline} ${escapeHtml(f.unit)}`,
      f.ratio === undefined ? '' : `${f.ratio}×`,
      escapeHtml(f.goal ?? ''),
    ];
    return `<tr><td>${cells[0]}</td>${cells
      .slice(1)
      .map((c) => `<td class="n">${c}</td>`)
      .join('')}</tr>`;
  });
  return `<details><summary>Figures</summary><table><tr><th>figure</th><th>value</th><th>baseline</th><th>ratio</th><th>goal</th></tr>
${rows.join('\n')}</table></details>`;
}

const svg = (height: number, parts: string[]) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${fmt(height)}" viewBox="0 0 ${width} ${fmt(height)}" role="img" aria-label="{caption}">\n${parts.join('\n')}\n</svg>`;

/** A chart and its caption, which also labels the chart for screen readers. */
const figureOf = (chart: string, caption: string) =>
  `<figure>${chart.replace('{caption}', escapeHtml(caption))}<figcaption>${escapeHtml(caption)}</figcaption></figure>`;

/** Empirical distribution: each sorted value against the share of samples at or below it. */
function cdf(samples: number[]): [number, number][] {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted.map((v, i) => [v, (i + 1) / sorted.length]);
}

/** Count over time: the n-th event at its time has count n. */
function cumulative(times: number[]): [number, number][] {
  return [...times].sort((a, b) => a - b).map((t, i) => [t, i + 1]);
}

function stepped(points: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  let previous = 0;
  for (const [x, y] of points) {
    out.push([x, previous], [x, y]);
    previous = y;
  }
  return out;
}

function ticks(min: number, max: number): number[] {
  const step = niceStep((max - min) / 6);
  const out: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + 1e-9; t += step) out.push(Math.round(t * 1e6) / 1e6);
  return out;
}

function decades(min: number, max: number): number[] {
  const out: number[] = [];
  for (let t = Math.ceil(min); t <= Math.floor(max); t++) out.push(t);
  return out;
}

function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const m = raw / power;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * power;
}

const fmt = (n: number) => String(Math.round(n * 10) / 10);
const fmtTick = (n: number) => String(Math.round(n * 1000) / 1000);

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
