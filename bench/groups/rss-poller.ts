import { readFileSync, writeFileSync } from 'node:fs';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { startSqsEventSource } from '../../local/sqs-event-source';

/**
 * The poller alone, in a process of its own, for bench/groups/rss.ts: the same handler the poll queue's
 * Lambda runs, fed by the local event source, configured by the environment the parent's local stack set.
 * Around each invocation it measures the process's resident set: the baseline just before, the peak
 * during (the kernel's high-water mark, reset before each invocation, and 5 ms samples as a cross-check),
 * and sends them to the parent.
 */
export interface InvocationMemory {
  taskIds: string[];
  baselineBytes: number;
  peakBytes: number;
  sampledPeakBytes: number;
  /** process.memoryUsage() just before, and at the highest sampled RSS: where the growth sits. */
  before: NodeJS.MemoryUsage;
  atPeak: NodeJS.MemoryUsage;
  ms: number;
}

const { handler } = await import('../../functions/poller');

/** VmHWM in bytes, after resetting it to the current RSS; undefined where /proc does not offer it. */
function resetPeak(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // Not Linux, or not allowed: the samples alone give the peak.
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

const measured = async (event: SQSEvent, context: Context) => {
  resetPeak();
  const before = process.memoryUsage();
  const baselineBytes = before.rss;
  let atPeak = before;
  const timer = setInterval(() => {
    const now = process.memoryUsage();
    if (now.rss > atPeak.rss) atPeak = now;
  }, 5);
  const started = performance.now();
  try {
    return await handler(event, context);
  } finally {
    clearInterval(timer);
    const after = process.memoryUsage();
    if (after.rss > atPeak.rss) atPeak = after;
    const report: InvocationMemory = {
      taskIds: event.Records.map((r) => (JSON.parse(r.body) as { taskId: string }).taskId),
      baselineBytes,
      peakBytes: Math.max(atPeak.rss, kernelPeak() ?? 0),
      sampledPeakBytes: atPeak.rss,
      before,
      atPeak,
      ms: performance.now() - started,
    };
    process.send?.(report);
  }
};

const env = process.env;
const sqs = new SQSClient({
  region: env.AWS_REGION,
  endpoint: env.SQS_ENDPOINT,
  credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '' },
});
const source = startSqsEventSource({
  sqs,
  queueUrl: env.POLL_QUEUE_URL ?? '',
  handler: measured,
  functionName: 'poller',
});
process.on('disconnect', () => void source.stop().then(() => process.exit(0)));
process.send?.('ready');
