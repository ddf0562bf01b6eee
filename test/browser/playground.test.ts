import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { UpstreamShape } from '../../functions/core/capabilities';
import { type CapabilityRequest, checkCapabilities } from '../../functions/core/capability-check';
import { publicRoutes, routes } from '../../functions/http/api-routes';
import { type Started, startNpm, stopNpm } from './npm-start';

/**
 * The playground and the API reference in a real browser (Debian's Chromium driven by playwright-core)
 * against `npm start` itself, run as a user runs it: the test reads the playground URL and the API key
 * from what it prints. Any Content-Security-Policy violation the browser reports fails the test.
 * Screenshots go to test-artifacts/ (git-ignored).
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const artifacts = join(root, 'test-artifacts');
// Found by the browser project's global setup (chromium-setup.ts); empty when none is: then every test
// of this file is skipped (in beforeEach, so a suite added later is skipped too).
const chromiumPath = inject('chromiumPath');

let started: Started;
let stackDir: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Console errors and page errors; CSP violations are among the console errors. */
let problems: string[];

beforeAll(async () => {
  if (!chromiumPath) return;
  mkdirSync(artifacts, { recursive: true });
  stackDir = mkdtempSync(join(tmpdir(), 'veo-browser-'));
  [started, browser] = await Promise.all([
    startNpm(join(stackDir, 'local-stack.json')),
    chromium.launch({
      executablePath: chromiumPath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    }),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await stopNpm(started?.child);
  if (stackDir) rmSync(stackDir, { recursive: true, force: true });
});

beforeEach(async ({ skip }) => {
  skip(!chromiumPath, 'no Chromium');
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  problems = [];
  page.on('console', (message) => {
    // Chromium reports CSP violations as console errors; any message naming the policy counts, whatever its level.
    if (message.type() === 'error' || /Content Security Policy/i.test(message.text()))
      problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
});

afterEach(async () => {
  await context?.close();
});

const cspViolations = () => problems.filter((p) => /Content Security Policy/i.test(p));

describe('npm start', () => {
  it('prints the playground and API reference URLs on loopback, and a key', () => {
    expect(started.playgroundUrl, started.output).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/playground$/);
    expect(started.docsUrl).toBe(started.playgroundUrl.replace(/\/playground$/, '/docs'));
    expect(started.apiKey).toMatch(/^veo_sk_/);
  });
});

describe('playground', () => {
  it('generates a video with the printed key and plays it; the task shows in the listing', async () => {
    const response = await page.goto(started.playgroundUrl);
    expect(response?.status()).toBe(200);
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toMatch(/media-src 'self' http:\/\/127\.0\.0\.1:\d+;/);

    await page.fill('#api-key', started.apiKey);
    await page.fill('#prompt', 'A red fox running through fresh snow at dawn');
    await page.selectOption('#model', 'veo3_fast');
    await page.selectOption('#aspect-ratio', '16:9');
    await page.fill('#seed', '12345');
    await page.click('#submit');

    // The state changes live: waiting first, with the elapsed time ticking, then success.
    await page.locator('#task-state', { hasText: 'waiting' }).waitFor({ timeout: 15_000 });
    const taskId = (await page.textContent('#task-id')) ?? '';
    expect(taskId).toMatch(/^[A-Za-z0-9_-]+$/);
    await expect.poll(() => page.textContent('#task-elapsed')).toMatch(/^\d+\.\d s$/);
    await page.locator('#task-state', { hasText: 'success' }).waitFor({ timeout: 30_000 });
    expect(await page.textContent('#task-flag')).toBe('1 success');

    // The player has loaded the MP4 from the video store (a presigned URL on the S3 emulator).
    const video = await page.waitForFunction(
      () => {
        const v = document.querySelector<HTMLVideoElement>('#video');
        return v && v.readyState >= 2 && v.videoWidth > 0
          ? { width: v.videoWidth, height: v.videoHeight, src: v.currentSrc, duration: v.duration }
          : false;
      },
      undefined,
      { timeout: 20_000 },
    );
    const loaded = (await video.jsonValue()) as {
      width: number;
      height: number;
      src: string;
      duration: number;
    };
    expect(loaded.width).toBeGreaterThan(0);
    expect(loaded.height).toBeGreaterThan(0);
    expect(loaded.duration).toBeGreaterThan(0);
    expect(loaded.src).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/.*${taskId}.*\\.mp4\\?X-Amz-`));
    const downloads = await page
      .locator('#downloads a')
      .evaluateAll((links) =>
        links.map((a) => ({ text: a.textContent, href: (a as HTMLAnchorElement).href })),
      );
    expect(downloads.map((d) => d.text)).toEqual(['Result (720p)', 'Original']);
    expect(downloads[0]?.href).toContain('X-Amz-Signature');

    // The listing shows the task, finished, with its own player.
    await page.click('#refresh');
    const item = page.locator(`#task-list li[data-task-id="${taskId}"]`);
    await item.locator('.state', { hasText: 'success' }).waitFor({ timeout: 10_000 });
    expect(await item.locator('video').count()).toBe(1);

    // The key lives in this tab's session storage and nowhere else.
    const storage = await page.evaluate(() => ({
      session: sessionStorage.getItem('veo-playground-api-key'),
      local: localStorage.length,
      cookies: document.cookie,
    }));
    expect(storage).toEqual({ session: started.apiKey, local: 0, cookies: '' });

    // The 1080p rendition, asked for with its button, shows as a download once made.
    await page.click('#request-1080p');
    await page.locator('#downloads a', { hasText: '1080p' }).waitFor({ timeout: 45_000 });
    expect(await page.locator('#error').isHidden()).toBe(true);

    await page.screenshot({ path: join(artifacts, 'playground-video.png'), fullPage: true });
    // get-1080p-video answers 400 "processing" first, as kie's does; the browser logs that answer itself.
    expect(problems.filter((p) => !/status of 400 \(Bad Request\)/.test(p))).toEqual([]);
  });

  it("shows the API's own 422 message for a seed out of range", async () => {
    await page.goto(started.playgroundUrl);
    // The key persists in the session: a reload (here a fresh context) needs it again.
    await page.fill('#api-key', started.apiKey);
    await page.fill('#prompt', 'A lighthouse in a storm');
    await page.fill('#seed', '5');
    await page.click('#submit');

    // The message the API itself gives for that request.
    const direct = await fetch(started.playgroundUrl.replace(/\/playground$/, '/api/v1/veo/generate'), {
      method: 'POST',
      headers: { authorization: `Bearer ${started.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        prompt: 'A lighthouse in a storm',
        model: 'veo3_fast',
        aspectRatio: '16:9',
        seeds: 5,
      }),
    });
    const { code, msg } = (await direct.json()) as { code: number; msg: string };
    expect(code).toBe(422);
    expect(msg).toContain('seeds');

    const error = page.locator('#error');
    await error.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await error.textContent()).toBe(`422: ${msg}`);
    expect(await page.locator('#task').isHidden()).toBe(true);
    await page.screenshot({ path: join(artifacts, 'playground-422.png'), fullPage: true });
    // The browser logs the refused request itself; nothing else may go wrong, least of all the CSP.
    expect(cspViolations()).toEqual([]);
    expect(problems.filter((p) => !/status of 422/.test(p))).toEqual([]);
  });
});

describe('playground choices', () => {
  /** Each option of a select: its value and whether the page greyed it out. */
  const optionsOf = (select: string) =>
    page
      .locator(`${select} option`)
      .evaluateAll((options) =>
        options.map((o) => [(o as HTMLOptionElement).value, (o as HTMLOptionElement).disabled]),
      );

  it('offers only what the upstream can do, as the capability table says, and the video is what was chosen', async () => {
    const apiBase = started.playgroundUrl.replace(/\/playground$/, '/api/v1');
    const served = (await (await fetch(`${apiBase}/capabilities.json`)).json()) as {
      upstream: UpstreamShape;
    };
    await page.goto(started.playgroundUrl);
    await page
      .locator('#capabilities', { hasText: `Upstream: ${served.upstream}.` })
      .waitFor({ timeout: 10_000 });
    await page.fill('#api-key', started.apiKey);
    await page.fill('#prompt', 'A lighthouse at dusk, waves below');
    await page.selectOption('#model', 'veo3_lite');
    await page.selectOption('#aspect-ratio', '9:16');
    await page.selectOption('#resolution', '1080p');

    // What the table says of each choice, the others as chosen; the page must grey out exactly those.
    const chosen: CapabilityRequest = {
      model: 'veo3_lite',
      mode: 'TEXT_2_VIDEO',
      aspectRatio: '9:16',
      imageCount: 0,
      resolution: '1080p',
      durationSeconds: 8,
      generateAudio: true,
      sampleCount: 1,
    };
    const refused = (change: Partial<CapabilityRequest>) =>
      !checkCapabilities({ ...chosen, ...change }, served.upstream).ok;
    expect(await optionsOf('#resolution')).toEqual(
      (['720p', '1080p', '4k'] as const).map((resolution) => [resolution, refused({ resolution })]),
    );
    expect(await optionsOf('#duration')).toEqual(
      [8, 6, 4].map((durationSeconds) => [String(durationSeconds), refused({ durationSeconds })]),
    );
    expect(await optionsOf('#sample-count')).toEqual(
      [1, 2, 3, 4].map((sampleCount) => [String(sampleCount), refused({ sampleCount })]),
    );
    expect(await optionsOf('#person-generation')).toEqual(
      (['', 'allow_all', 'allow_adult', 'dont_allow'] as const).map((personGeneration) => [
        personGeneration,
        personGeneration === '' ? false : refused({ personGeneration }),
      ]),
    );
    expect(await optionsOf('#model')).toEqual(
      (['veo3', 'veo3_fast', 'veo3_lite'] as const)
        .map((model) => [model, refused({ model })])
        .sort(
          // The page lists veo3_fast first.
          (a, b) => (a[0] === 'veo3_fast' ? -1 : b[0] === 'veo3_fast' ? 1 : 0),
        ),
    );
    expect(await page.isDisabled('#generate-audio')).toBe(refused({ generateAudio: false }));
    expect(await page.isDisabled('#negative-prompt')).toBe(refused({ negativePrompt: 'blurry' }));
    // The local stack speaks the Gemini API: no 4K on Lite, 1080p only at 8 s, one video, always audio.
    expect(served.upstream).toBe('simulator');
    expect(await optionsOf('#resolution')).toContainEqual(['4k', true]);
    expect(await optionsOf('#duration')).toContainEqual(['4', true]);
    expect(await optionsOf('#sample-count')).toContainEqual(['2', true]);
    expect(await page.isDisabled('#generate-audio')).toBe(true);
    expect(await page.locator('#resolution option[value="4k"]').getAttribute('title')).toBe(
      'resolution 4k is not available on veo3_lite (simulator)',
    );

    const sent = page.waitForRequest((request) => request.url().endsWith('/api/v1/veo/generate'));
    await page.click('#submit');
    expect((await sent).postDataJSON()).toMatchObject({
      model: 'veo3_lite',
      aspectRatio: '9:16',
      resolution: '1080p',
      duration: 8,
    });
    await page.locator('#task-state', { hasText: 'success' }).waitFor({ timeout: 45_000 });
    expect(await page.textContent('#task-asked')).toBe('1080p · 8 s · audio · 1 video · 9:16');
    // The simulator returns a real MP4 of the asked size: the player says so.
    const size = await page.waitForFunction(
      () => {
        const v = document.querySelector<HTMLVideoElement>('#video');
        return v && v.readyState >= 1 && v.videoWidth > 0
          ? [v.videoWidth, v.videoHeight, Math.round(v.duration)]
          : false;
      },
      undefined,
      { timeout: 20_000 },
    );
    expect(await size.jsonValue()).toEqual([1080, 1920, 8]);
    await page.screenshot({ path: join(artifacts, 'playground-choices.png'), fullPage: true });
    expect(problems).toEqual([]);
  });
});

describe('API reference', () => {
  it('renders /api/v1/openapi.json and lists every route of the API', async () => {
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    const response = await page.goto(started.docsUrl);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'self'");
    await page.locator('.opblock').first().waitFor({ timeout: 20_000 });

    const shown = await page.locator('.opblock').evaluateAll((blocks) =>
      blocks.map((block) => {
        const method = block.querySelector('.opblock-summary-method')?.textContent ?? '';
        const path = block.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? '';
        return `${method.toUpperCase()} ${path}`;
      }),
    );
    const expected = [...Object.keys(routes), ...Object.keys(publicRoutes)];
    expect(expected.length).toBeGreaterThan(5);
    expect([...shown].sort()).toEqual([...expected].sort());

    // Everything the page loaded came from our own origin: the renderer too, and the spec.
    const origin = new URL(started.docsUrl).origin;
    expect(requests.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('data:'))).toEqual([]);
    expect(requests).toContain(`${origin}/api/v1/openapi.json`);

    await page.screenshot({ path: join(artifacts, 'docs.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it("takes the playground's session key for Try it out, and calls our API with it", async () => {
    await page.goto(started.playgroundUrl);
    await page.fill('#api-key', started.apiKey);
    await page.click('text=API reference');
    await page.waitForURL(started.docsUrl);
    await page.locator('button.authorize.locked').waitFor({ timeout: 20_000 });

    const credit = page.locator('.opblock', {
      has: page.locator('.opblock-summary-path[data-path="/api/v1/chat/credit"]'),
    });
    await credit.locator('.opblock-summary').click();
    await credit.locator('button.try-out__btn').click();
    await credit.locator('button.execute').click();
    const body = credit.locator('.live-responses-table .response-col_description pre.microlight').first();
    await body.waitFor({ timeout: 10_000 });
    expect(JSON.parse((await body.textContent()) ?? '')).toMatchObject({ code: 200, msg: 'success' });

    await page.screenshot({ path: join(artifacts, 'docs-try-it-out.png'), fullPage: true });
    expect(problems).toEqual([]);
  });
});

/** What the task panel shows at one moment, sampled in the page every 25 ms. */
interface Sample {
  state: string;
  /** Elements carrying the `hidden` attribute that the browser nevertheless shows. */
  hiddenButShown: string[];
  progress: boolean;
  progressText: string;
  video: boolean;
  actions: boolean;
  fail: boolean;
}

/** Starts sampling the page; the returned function stops and hands back the samples so far. */
async function sampleTaskPanel(target: Page): Promise<() => Promise<Sample[]>> {
  await target.evaluate(() => {
    const shown = (selector: string) => document.querySelector(selector)?.checkVisibility() ?? false;
    const samples: unknown[] = [];
    const take = () =>
      samples.push({
        state: document.querySelector('#task-state')?.textContent ?? '',
        hiddenButShown: [...document.querySelectorAll('[hidden]')]
          .filter((element) => element.checkVisibility())
          .map((element) => element.id || element.tagName.toLowerCase()),
        progress: shown('#task-progress'),
        progressText: document.querySelector('#task-progress-text')?.textContent ?? '',
        video: shown('#video'),
        actions: shown('#rendition-actions'),
        fail: shown('#task-fail'),
      });
    take();
    const timer = setInterval(take, 25);
    const stopSampling = () => {
      clearInterval(timer);
      return samples;
    };
    Object.assign(window, { stopSampling });
  });
  return () => target.evaluate(() => (window as unknown as { stopSampling: () => Sample[] }).stopSampling());
}

describe('playground task states', () => {
  async function submit(prompt: string) {
    await page.goto(started.playgroundUrl);
    await page.fill('#api-key', started.apiKey);
    await page.fill('#prompt', prompt);
    const stop = await sampleTaskPanel(page);
    await page.click('#submit');
    return stop;
  }

  /** While waiting: a progress bar with the elapsed time, and neither player nor rendition buttons. */
  function expectWaitingShown(samples: Sample[]) {
    const waiting = samples.filter((s) => s.state === 'waiting');
    expect(waiting.length).toBeGreaterThan(0);
    for (const sample of waiting) {
      expect(sample).toMatchObject({ progress: true, video: false, actions: false, fail: false });
      expect(sample.progressText).toMatch(/^Generating the video… \d+\.\d s$/);
    }
    expect(samples.flatMap((s) => s.hiddenButShown)).toEqual([]);
  }

  it('shows progress while waiting, then the player and rendition buttons; nothing hidden shows', async () => {
    const stop = await submit('A paper boat drifting down a rain gutter');
    await page.locator('#task-state', { hasText: 'success' }).waitFor({ timeout: 30_000 });
    await page.locator('#video').waitFor({ state: 'visible', timeout: 10_000 });
    const samples = await stop();

    expectWaitingShown(samples);
    expect(samples.at(-1)).toMatchObject({
      state: 'success',
      progress: false,
      video: true,
      actions: true,
      fail: false,
    });
    await page.screenshot({ path: join(artifacts, 'playground-states-success.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('shows a failed task with its message and without an empty player or rendition buttons', async () => {
    const stop = await submit('A glass of water [fail]');
    await page.locator('#task-state', { hasText: 'fail' }).waitFor({ timeout: 30_000 });
    const samples = await stop();

    expectWaitingShown(samples);
    expect(samples.at(-1)).toMatchObject({
      state: 'fail',
      progress: false,
      video: false,
      actions: false,
      fail: true,
    });
    expect(await page.textContent('#task-fail')).toMatch(/^\d+: ./);
    await page.screenshot({ path: join(artifacts, 'playground-states-fail.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('asks for the key when none is pasted, instead of blaming the network', async () => {
    await page.goto(started.playgroundUrl);
    await page.fill('#prompt', 'A dog in a park');
    await page.click('#submit');

    const error = page.locator('#error');
    await error.waitFor({ state: 'visible', timeout: 5_000 });
    expect(await error.textContent()).toMatch(/^Paste your API key first/);
    expect(await page.locator('#task').isHidden()).toBe(true);
    expect(problems).toEqual([]);
  });
});

describe('API reference examples', () => {
  it("Try it out on generate sends the document's own example, and it succeeds", async () => {
    await page.goto(started.playgroundUrl);
    await page.fill('#api-key', started.apiKey);
    await page.click('text=API reference');
    await page.waitForURL(started.docsUrl);
    await page.locator('button.authorize.locked').waitFor({ timeout: 20_000 });

    const generate = page.locator('.opblock', {
      has: page.locator('.opblock-summary-path[data-path="/api/v1/veo/generate"]'),
    });
    await generate.locator('.opblock-summary').click();
    await generate.locator('button.try-out__btn').click();
    const sent = JSON.parse(await generate.locator('textarea.body-param__text').inputValue());
    await generate.locator('button.execute').click();
    const body = generate.locator('.live-responses-table .response-col_description pre.microlight').first();
    await body.waitFor({ timeout: 10_000 });

    expect(sent).toMatchObject({ prompt: expect.any(String), model: 'veo3_fast' });
    expect(sent).not.toHaveProperty('imageUrls');
    expect(sent).not.toHaveProperty('enableFallback');
    expect(JSON.parse((await body.textContent()) ?? '')).toMatchObject({ code: 200, msg: 'success' });
    expect(problems).toEqual([]);
  });
});
