import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { DeleteObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startLocalStack } from '../../local/stack';
import { figure, type Results, stats } from '../results';
import { apiCalls, type RecordData, runGroup, sleep } from './common';
import type { InvocationMemory } from './rss-poller';

/**
 * 7. rss: peak growth of the resident set of the process that completes a task while a 200 MiB video
 * streams from the upstream into S3. The local stack runs here without its poller; the poller runs alone
 * in a child process (bench/groups/rss-poller.ts) and reports its memory around each invocation. The
 * simulator (Gemini API shape) makes the video on the fly; no watermark, so the completion is one
 * download piped into one multipart upload. Baseline: the child's RSS just before the invocation.
 */
const videoBytes = 200 * 1024 * 1024;
const runs = 3;
const MiB = 1024 * 1024;

async function rss(): Promise<Results> {
  const stack = await startLocalStack({
    port: 0,
    provider: 'simulator',
    pollIntervalSeconds: 1,
    devCredits: 1_000_000,
    consumers: ['generate', 'reserved', 'notify'],
    simulator: { latencyMs: 0, videoBytes },
    environment: { RATE_LIMIT: 'off' },
  });
  let poller: ChildProcess | undefined;
  try {
    const invocations: InvocationMemory[] = [];
    // The environment the stack set for its handlers configures the child's poller too.
    poller = fork(new URL('./rss-poller.ts', import.meta.url).pathname, [], {
      execArgv: [
        '--no-warnings=ExperimentalWarning',
        '--import',
        'tsx',
        ...(process.env.BENCH_RSS_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
      ],
      env: process.env,
    });
    poller.on('message', (message) => {
      if (typeof message === 'object') invocations.push(message as InvocationMemory);
    });
    const [ready] = await Promise.race([
      once(poller, 'message'),
      once(poller, 'exit').then(() => {
        throw new Error('the poller process exited');
      }),
    ]);
    if (ready !== 'ready') throw new Error(`unexpected first message from the poller: ${String(ready)}`);

    const s3 = new S3Client({
      region: process.env.AWS_REGION,
      endpoint: process.env.S3_ENDPOINT,
      forcePathStyle: true,
    });
    const bucket = process.env.VIDEO_BUCKET;
    const api = apiCalls(stack.url, stack.apiKey);
    const growth: number[] = [];
    const baselines: number[] = [];
    const peaks: number[] = [];
    const durations: number[] = [];
    const stored: number[] = [];
    for (let run = 0; run < runs; run++) {
      const { status, taskId } = await api.generate({ prompt: `rss bench ${run}` });
      if (status !== 200 || !taskId) throw new Error(`submit answered ${status}`);
      let record: RecordData | null = null;
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        record = await api.record(taskId);
        if (record && record.successFlag !== 0) break;
        await sleep(250);
      }
      if (record?.successFlag !== 1) throw new Error(`task ${taskId} ended ${JSON.stringify(record)}`);
      // The invocation that completed the task is the one holding the most memory among its own.
      await sleep(100);
      const mine = invocations.filter((i) => i.taskIds.includes(taskId));
      const completion = mine.reduce<InvocationMemory | undefined>(
        (top, i) => (!top || i.peakBytes - i.baselineBytes > top.peakBytes - top.baselineBytes ? i : top),
        undefined,
      );
      if (!completion) throw new Error(`no invocation reported for ${taskId}`);
      growth.push((completion.peakBytes - completion.baselineBytes) / MiB);
      if (process.env.BENCH_RSS_DEBUG) console.error(JSON.stringify(completion));
      baselines.push(completion.baselineBytes / MiB);
      peaks.push(completion.peakBytes / MiB);
      durations.push(completion.ms / 1000);
      const key = `videos/${taskId}/0.mp4`;
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      stored.push(head.ContentLength ?? 0);
      // fauxqs keeps objects in this process's memory: drop each once measured.
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    }
    const g = stats(growth);
    const b = stats(baselines);
    const d = stats(durations);
    return {
      'rss.video-size': figure(videoBytes / MiB, 'MiB'),
      'rss.runs': figure(runs, 'runs'),
      'rss.peak-growth': figure(g.max, 'MiB', { goal: '≤ 64 MiB (largest of the runs)' }),
      'rss.peak-growth.min': figure(g.min, 'MiB'),
      'rss.peak-growth.median': figure(g.median, 'MiB'),
      'rss.baseline.first': figure(baselines[0] ?? Number.NaN, 'MiB'),
      'rss.baseline.median': figure(b.median, 'MiB'),
      // What the container holds after it all: the highest peak over the first run's baseline.
      'rss.peak-growth.since-first': figure(Math.max(...peaks) - (baselines[0] ?? Number.NaN), 'MiB'),
      'rss.peak.max': figure(Math.max(...peaks), 'MiB'),
      'rss.stored-bytes.min': figure(Math.min(...stored) / MiB, 'MiB', { goal: '= 200 MiB' }),
      'rss.stored-bytes.max': figure(Math.max(...stored) / MiB, 'MiB', { goal: '= 200 MiB' }),
      'rss.completion.min': figure(d.min, 's'),
      'rss.completion.median': figure(d.median, 's'),
      'rss.completion.max': figure(d.max, 's'),
      'rss.throughput.median': figure(videoBytes / MiB / d.median, 'MiB/s'),
    };
  } finally {
    if (poller?.connected) poller.disconnect();
    poller?.kill();
    await stack.stop();
  }
}

await runGroup('rss', rss);
