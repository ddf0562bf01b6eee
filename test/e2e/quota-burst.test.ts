import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient } from './support';

/**
 * A burst of 200 submits against an upstream quota (kie.ai's 20 per 10 s, scaled to 20 per 2 s so the
 * test takes seconds, not minutes): every client gets its taskId at once, the tasks wait in SQS, the
 * workers submit at the quota's pace, and nothing is lost, duplicated or refused.
 */
const tasks = 200;
const quota = { limit: 20, windowMs: 2000 };
let stack: RunningLocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    provider: 'kie',
    simulatorLatencyMs: 300,
    pollIntervalSeconds: 1,
    simulator: { quota: { kie: quota }, maxRecordedRequests: 5000 },
    // The upstream's own window: the workers keep their margin over it (core/rate-window.ts).
    // One key submits the whole burst: no per-key rate limit here, only the upstream quota.
    environment: { QUOTA_LIMIT: String(quota.limit), QUOTA_WINDOW_SECONDS: '2', RATE_LIMIT: 'off' },
  });
});
afterAll(() => stack?.stop());

it('drains a 200-task burst at the upstream quota with no 429 reaching a client', {
  timeout: 180_000,
}, async () => {
  const client = apiClient(stack);
  const before = await client.credit();
  const submits = await Promise.all(
    Array.from({ length: tasks }, (_, i) =>
      client.call<{ taskId: string }>('POST', '/api/v1/veo/generate', {
        body: { prompt: `burst task ${i}` },
      }),
    ),
  );
  expect(submits.map((s) => s.status)).toEqual(Array(tasks).fill(200));
  const taskIds = submits.map((s) => s.json.data.taskId);
  expect(new Set(taskIds).size).toBe(tasks);

  const pending = new Set(taskIds);
  const deadline = Date.now() + 150_000;
  while (pending.size > 0 && Date.now() < deadline) {
    for (const taskId of [...pending]) {
      const record = await client.record(taskId);
      if (record.successFlag !== 0) {
        expect(record.successFlag, JSON.stringify(record)).toBe(1);
        pending.delete(taskId);
      }
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 1000));
  }
  expect(pending.size).toBe(0);

  const upstreamSubmits = stack.simulator.requests.filter((r) => r.shape === 'kie' && r.kind === 'submit');
  const times = upstreamSubmits.map((r) => r.at).sort((a, b) => a - b);
  const drainMs = (times.at(-1) ?? 0) - (times[0] ?? 0);
  const minimumMs = (tasks / quota.limit - 1) * quota.windowMs;
  console.log(
    `burst: ${tasks} tasks, upstream submits ${upstreamSubmits.length}, drained in ${(drainMs / 1000).toFixed(1)} s ` +
      `(quota minimum ${(minimumMs / 1000).toFixed(1)} s), upstream 429s ${stack.simulator.stats.refused.quota}`,
  );
  // Nothing submitted twice: every submit the upstream accepted is one task. The workers keep to the
  // quota by grant time; on a loaded machine a submit can reach the upstream late enough to meet its
  // window, and is then retried like any 429 — never seen by a client.
  const refused = stack.simulator.stats.refused.quota;
  expect(upstreamSubmits.length - refused).toBe(tasks);
  expect(refused).toBeLessThanOrEqual(tasks * 0.05);
  expect(drainMs).toBeGreaterThanOrEqual(minimumMs);
  expect(drainMs).toBeLessThan(minimumMs * 2);
  expect(await client.credit()).toBe(before - tasks * 60); // charged once each
});
