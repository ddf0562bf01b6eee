import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { groups, renderReport } from '../../bench/report';
import type { Results } from '../../bench/results';

/**
 * bench/report.html in Chromium: every group has its section, every chart is drawn with data, and the
 * page loads nothing and breaks no rule of its own Content-Security-Policy.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const artifacts = join(root, 'test-artifacts');
const committed = JSON.parse(readFileSync(join(root, 'bench/results.json'), 'utf8')) as Results;
const chromiumPath = inject('chromiumPath');

/** The committed figures plus raw samples as `npm run bench` now records them. */
function withSamples(results: Results): Results {
  const spread = (n: number, from: number, to: number) =>
    Array.from({ length: n }, (_, i) => from + ((to - from) * i) / (n - 1));
  const copy = structuredClone(results);
  const set = (key: string, samples: number[]) => {
    const f = copy[key];
    if (!f) throw new Error(`results.json has no ${key}`);
    f.samples = samples;
  };
  set('submit.c1.p50', spread(300, 8, 70));
  set('submit.c1.noop.p50', spread(300, 0.3, 20));
  set('submit.c16.p50', spread(480, 60, 170));
  set('submit.c16.noop.p50', spread(480, 5, 34));
  set('poll.delay.p50', spread(60, 10, 2845));
  set('poll.push.delay.p50', spread(60, 8, 116));
  // 200 upstream submits, 20 at the start of each 2 s window; each task done 0.4 s after its submit.
  const submits = Array.from({ length: 200 }, (_, i) => Math.floor(i / 20) * 2 + 0.01 * (i % 20));
  set('burst.upstream-submits', submits);
  set(
    'burst.all-done',
    submits.map((t) => t + 0.4),
  );
  // Recorded since the committed run (bench/quota-timeline.ts): the slots reused late.
  copy['burst.slot-reuse.late'] = { value: 7, unit: 'slots', baseline: 180, ratio: 0.039 };
  copy['burst.real.slot-reuse.late'] = { value: 0, unit: 'slots', baseline: 80, ratio: 0 };
  copy['burst.quota.limit'] = { value: 20, unit: 'requests' };
  copy['burst.quota.window'] = { value: 2, unit: 's' };
  return copy;
}

it('bench/report.html is drawn from the committed bench/results.json (npm run bench:report)', () => {
  expect(readFileSync(join(root, 'bench/report.html'), 'utf8')).toBe(renderReport(committed));
});

describe.skipIf(!chromiumPath)('the bench report in Chromium', () => {
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'veo-bench-report-'));
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Opens a report, collecting console errors, page errors and every request it makes. */
  async function open(html: string, name: string) {
    const file = join(dir, `${name}.html`);
    writeFileSync(file, html);
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(file).href);
    return { page, problems, requests, url: pathToFileURL(file).href, close: () => context.close() };
  }

  /** Per chart of a section: how many data marks it draws with a visible size. */
  const marks = (page: Page, id: string) =>
    page.locator(`section#${id} figure svg`).evaluateAll((charts) =>
      charts.map(
        (chart) =>
          [...chart.querySelectorAll('.mark')].filter((mark) => {
            const box = (mark as SVGGraphicsElement).getBBox();
            // A line may be flat; a bar needs both sides (a bar of 0 draws nothing).
            return mark.tagName === 'path' ? box.width > 0 : box.width > 0 && box.height > 0;
          }).length,
      ),
    );

  it('shows a section per group, each chart drawn with data, from the committed results.json', async () => {
    const { page, problems, requests, url, close } = await open(renderReport(committed), 'committed');
    try {
      for (const { id, title } of groups) {
        expect(await page.locator(`section#${id} h2`).textContent()).toBe(title);
        expect(await page.locator(`section#${id} table tr`).count(), id).toBeGreaterThan(1);
        // At least one chart, and every chart draws some data.
        const charts = await marks(page, id);
        expect(charts.length, id).toBeGreaterThan(0);
        expect(
          charts.every((n) => n > 0),
          `${id}: ${charts}`,
        ).toBe(true);
      }
      // Bundle: 6 functions and the baseline, three times, and the Vertex worker; init: the baseline, the
      // floors and 6 functions for each variant (tracing off: no floor of the design, its baseline the deployed one).
      expect(await marks(page, 'bundle')).toEqual([22]);
      expect(await marks(page, 'init')).toEqual([9, 8, 9, 9]);
      expect(await marks(page, 'calls')).toEqual([4]);
      expect(await marks(page, 'rss')).toEqual([4]);
      // Soak: succeeded, failed, failed as injected; the bars that should be 0 are 0 and draw nothing.
      expect(await marks(page, 'soak')).toEqual([3]);
      // Without raw samples: quantile bars, and the burst's end points under the quota line.
      expect(await marks(page, 'submit')).toEqual([10]);
      // Poll: the quantile bars, then the push's p50 and p95 beside polling alone's.
      expect(await marks(page, 'poll')).toEqual([7, 4]);
      // Burst: the end points under the quota line; then the drain ratios of the 2 s and real (10 s) windows
      // and of the 2 s one accepted first, each one's first-window spread and late slot reuse, how busy the
      // machine was in each one's three stretches, and each one's slot reuse p50 and p95.
      expect(await marks(page, 'burst')).toEqual([2, 3, 6, 9, 6]);
      // Failover: the tasks of each of the three upstreams; hostile: the two non-zero counts; cost: 3 upstreams.
      expect(await marks(page, 'failover')).toEqual([3]);
      expect(await marks(page, 'hostile')).toEqual([2]);
      expect(await marks(page, 'cost')).toEqual([3]);
      await page.screenshot({ path: join(artifacts, 'bench-report.png'), fullPage: true });
      expect(requests).toEqual([url]);
      expect(problems).toEqual([]);
    } finally {
      await close();
    }
  });

  it('draws the distributions from raw samples: submit CDF, poll histogram, burst counts over time', async () => {
    const results = withSamples(committed);
    const { page, problems, requests, url, close } = await open(renderReport(results), 'samples');
    try {
      expect(await marks(page, 'submit')).toEqual([4]);
      // The poll histogram: bins up to the largest delay, most of them holding some task.
      const [bins = 0, push] = await marks(page, 'poll');
      expect(bins).toBeGreaterThan(10);
      // The push's delays and polling alone's, one distribution each, every task's delay a point.
      expect(push).toBe(2);
      const pollPoints = await page
        .locator('section#poll path.mark')
        .evaluateAll((paths) => paths.map((p) => Number(p.getAttribute('data-points'))));
      expect(pollPoints).toEqual([60, 60]);
      // The quota staircase, upstream submits and tasks done; the submits never above the quota. The
      // real-window charts draw from figures, not samples.
      expect(await marks(page, 'burst')).toEqual([3, 3, 6, 9, 6]);
      const points = await page
        .locator('section#burst path.mark')
        .evaluateAll((paths) => paths.map((p) => Number(p.getAttribute('data-points'))));
      expect(points).toEqual([expect.any(Number), 200, 200]);
      // The late slot reuses each burst counted, as the results drawn hold them.
      const late = (prefix: string) => {
        const figure = results[`${prefix}.slot-reuse.late`];
        return `${figure?.value} of ${figure?.baseline}`;
      };
      expect(await page.locator('section#burst figcaption').last().textContent()).toContain(
        `2 s window ${late('burst')}, 10 s window ${late('burst.real')}, 2 s, accepted first ${late('burst.queued')}.`,
      );
      await page.screenshot({ path: join(artifacts, 'bench-report-samples.png'), fullPage: true });
      expect(requests).toEqual([url]);
      expect(problems).toEqual([]);
    } finally {
      await close();
    }
  });
});
