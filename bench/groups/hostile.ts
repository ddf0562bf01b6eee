import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { functions } from '../../functions/manifest';
import { startLocalStack } from '../../local/stack';
import { pngBytes } from '../../simulator/fixtures';
import { blackPng } from '../../test/support/images';
import { figure, type Results } from '../results';
import { apiCalls, type RecordData, runGroup, sleep } from './common';

/**
 * 9. hostile (issue 14, Isolation): 5 hostile tasks sent among 50 normal ones, all at once, with a provider
 * that takes images inline (Gemini API shape), so the worker fetches and decodes every image:
 * - one 200-megapixel PNG (about 190 KB on the wire), to be refused from its header;
 * - three tasks each with a legal 20 MB image (random pixels, 2500×2500) trickled so slowly that 95 % of it
 *   arrives within 10 s and the rest never does: the fetch deadline (15 s) ends them, each holding
 *   its partial download meanwhile;
 * - one with a callBackUrl over 2,048 characters, to be refused at submit (422).
 * Every normal task must succeed, every hostile one end with a 4xx code (at submit or as its failure).
 * Memory: all functions run in this one process locally (and fauxqs with them), so the figure is the peak
 * growth of the whole process's resident set (the kernel's high-water mark, VmHWM, reset just before the
 * burst; sampled RSS where /proc lacks it) over its RSS just before, as a share of the worker's manifest
 * memory: an upper bound for the worker's own.
 */
const normal = 50;
const slowBytesShare = 0.95;
const slowSeconds = 10;

function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function kernelPeak(): number | undefined {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

async function hostile(): Promise<Results> {
  const bomb = await blackPng(20_000, 10_000, 1);
  const side = 2500;
  const big = await sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
  const ok = pngBytes(1280, 720);
  const images = createServer((req, res) => {
    if (req.url === '/200mp.png') return void res.writeHead(200, { 'content-type': 'image/png' }).end(bomb);
    if (req.url?.startsWith('/slow-')) {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(big.length) });
      const pieces = 50;
      const piece = Math.ceil((big.length * slowBytesShare) / pieces);
      let sent = 0;
      const timer = setInterval(
        () => {
          if (res.destroyed || sent >= pieces) return void clearInterval(timer);
          res.write(big.subarray(sent * piece, (sent + 1) * piece));
          sent++;
        },
        (slowSeconds * 1000) / pieces,
      );
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.writeHead(200, { 'content-type': 'image/png' }).end(ok);
  });
  images.listen(0, '127.0.0.1');
  await once(images, 'listening');
  const base = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;

  const stack = await startLocalStack({
    port: 0,
    provider: 'gemini',
    simulatorLatencyMs: 1000,
    pollIntervalSeconds: 1,
    devCredits: 1_000_000,
    environment: {
      RATE_LIMIT: 'off',
      QUOTA_LIMIT: '1000',
      QUOTA_WINDOW_SECONDS: '1',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    },
  });
  try {
    const api = apiCalls(stack.url, stack.apiKey);
    // Warm: every function has run once before the baseline.
    const warm = await api.generate({ prompt: 'warm-up', imageUrls: [`${base}/ok.png`] });
    for (let i = 0; i < 60 && (await api.record(warm.taskId ?? ''))?.successFlag === 0; i++) await sleep(500);

    const longUrl = `${base}/callback?pad=${'x'.repeat(2100)}`;
    const bodies = [
      { hostile: true, body: { prompt: 'hostile: 200 MP', imageUrls: [`${base}/200mp.png`] } },
      ...[1, 2, 3].map((n) => ({
        hostile: true,
        body: { prompt: `hostile: slow ${n}`, imageUrls: [`${base}/slow-${n}.png`] },
      })),
      { hostile: true, body: { prompt: 'hostile: long URL', callBackUrl: longUrl } },
      ...Array.from({ length: normal }, (_, i) => ({
        hostile: false,
        body: { prompt: `normal ${i}`, ...(i % 2 === 0 ? { imageUrls: [`${base}/ok-${i}.png`] } : {}) },
      })),
    ];
    // The hostile ones spread among the normal ones.
    const order = bodies.map((b, i) => ({ ...b, at: b.hostile ? i * 11 : i })).sort((a, b) => a.at - b.at);

    global.gc?.();
    const before = process.memoryUsage.rss();
    const kernel = resetPeak();
    let sampledPeak = before;
    const sampler = setInterval(() => {
      sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss());
    }, 20);
    const started = performance.now();
    const submitted = await Promise.all(order.map(async (b) => ({ ...b, ...(await api.generate(b.body)) })));
    const records = new Map<number, RecordData | null>();
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      await Promise.all(
        submitted.map(async (s, i) => {
          if (s.taskId && (records.get(i)?.successFlag ?? 0) === 0)
            records.set(i, await api.record(s.taskId));
        }),
      );
      if (submitted.every((s, i) => !s.taskId || (records.get(i)?.successFlag ?? 0) !== 0)) break;
      await sleep(500);
    }
    const doneMs = performance.now() - started;
    clearInterval(sampler);
    const peak = Math.max(sampledPeak, (kernel ? kernelPeak() : undefined) ?? 0);

    let normalSucceeded = 0;
    let hostile4xx = 0;
    let normalFailed = 0;
    let stuck = 0;
    const hostileOutcomes: string[] = [];
    submitted.forEach((s, i) => {
      const record = records.get(i);
      if (s.taskId && (record?.successFlag ?? 0) === 0) stuck++;
      if (!s.hostile) {
        if (record?.successFlag === 1) normalSucceeded++;
        else normalFailed++;
        return;
      }
      const code = s.taskId ? (record?.errorCode ?? 0) : s.status;
      hostileOutcomes.push(`${s.body.prompt}: ${s.taskId ? 'failed' : 'refused at submit'} ${code}`);
      if (code >= 400 && code < 500) hostile4xx++;
    });
    console.log(hostileOutcomes.join('\n'));
    const MiB = 1024 * 1024;
    const growth = peak - before;
    return {
      'hostile.normal-succeeded': figure(normalSucceeded, 'tasks', { goal: `${normal}` }),
      'hostile.normal-failed': figure(normalFailed, 'tasks', { goal: '0' }),
      'hostile.hostile-4xx': figure(hostile4xx, 'tasks', { goal: '5' }),
      'hostile.stuck': figure(stuck, 'tasks', { goal: '0' }),
      'hostile.rss-growth': figure(growth / MiB, 'MiB', { baseline: Math.round((before / MiB) * 10) / 10 }),
      'hostile.worker-memory-pct': figure((100 * growth) / (functions.worker.memoryMb * MiB), '%', {
        goal: '≤ 60 %',
      }),
      'hostile.peak-measured-by': figure(kernel ? 1 : 0, '1 = VmHWM, 0 = sampled RSS'),
      'hostile.duration': figure(doneMs / 1000, 's'),
    };
  } finally {
    await stack.stop();
    images.closeAllConnections();
    images.close();
  }
}

await runGroup('hostile', hostile);
