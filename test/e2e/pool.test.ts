import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  auditPool,
  circuitOpen,
  type PooledTask,
  poolQuotaMinimumMs,
  waitUntil,
} from '../../local/pool-audit';
import { poolEntries, type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient } from './support';

/**
 * Issue 16 on the local stack: three upstreams (Vertex AI, the Gemini API, kie.ai), one simulator each in
 * its own wire format, with small scaled quotas (5 per 2 s each). A burst drains across all three; one
 * upstream taken down mid-burst costs no task and generates none twice. Pinning is checked from the
 * simulators' own request logs against record-info's `upstream`.
 */
const quota = { limit: 5, windowMs: 2000 };
const coolDownSeconds = 2;
let stack: RunningLocalStack;
let client: ReturnType<typeof apiClient>;

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    pool: [
      { provider: 'vertex', quota },
      { provider: 'gemini', quota },
      { provider: 'kie', quota },
    ],
    // Long enough that some generations are in flight when an upstream goes down.
    simulatorLatencyMs: 1000,
    pollIntervalSeconds: 1,
    // One key submits every burst: no per-key rate limit, only the upstreams' quotas.
    environment: { RATE_LIMIT: 'off', CIRCUIT_COOL_DOWN_SECONDS: String(coolDownSeconds) },
  });
  client = apiClient(stack);
});
afterAll(() => stack?.stop());

async function submitAll(prompts: string[]): Promise<string[]> {
  return Promise.all(prompts.map((prompt) => client.generate({ prompt, model: 'veo3_fast' })));
}

/** Waits for every task to end; each must have succeeded. Returns them as the audit reads them. */
async function finished(taskIds: string[], prompts: string[], timeoutMs: number): Promise<PooledTask[]> {
  const done = new Map<string, PooledTask>();
  const deadline = Date.now() + timeoutMs;
  while (done.size < taskIds.length && Date.now() < deadline) {
    await Promise.all(
      taskIds.map(async (taskId, i) => {
        if (done.has(taskId)) return;
        const record = await client.record(taskId);
        if (record.successFlag === 0) return;
        expect(record.successFlag, JSON.stringify(record)).toBe(1);
        const upstream = 'upstream' in record ? record.upstream : null;
        done.set(taskId, {
          taskId,
          prompt: prompts[i] ?? '',
          upstream: typeof upstream === 'string' ? upstream : null,
        });
      }),
    );
    if (done.size < taskIds.length) await new Promise((r) => setTimeout(r, 500));
  }
  const running = await Promise.all(
    taskIds.filter((taskId) => !done.has(taskId)).map((taskId) => client.record(taskId)),
  );
  expect(running, 'tasks still running').toEqual([]);
  return [...done.values()];
}

it('points each upstream at a simulator of its own, with its own credentials and quota', () => {
  const config = JSON.parse(process.env.UPSTREAMS ?? '[]') as {
    name: string;
    provider: string;
    baseUrl: string;
    secret?: Record<string, string>;
    quota?: { limit: number; windowSeconds: number };
  }[];
  expect(config.map((u) => [u.name, u.provider, u.baseUrl])).toEqual(
    ['vertex', 'gemini', 'kie'].map((name) => [name, name, stack.upstreams[name]?.url]),
  );
  expect(new Set(config.map((u) => u.baseUrl)).size).toBe(3);
  // The simulator's own window: the workers keep their margin over it (core/rate-window.ts).
  for (const u of config) expect(u.quota).toEqual({ limit: 5, windowSeconds: 2 });
  expect(config.find((u) => u.name === 'kie')?.secret).toEqual({
    apiKey: expect.any(String),
    webhookSecret: expect.any(String),
  });
  expect(Object.keys(config.find((u) => u.name === 'vertex')?.secret ?? {})).toEqual(['serviceAccountJson']);
});

it('names a repeated provider after it, -2, -3..., and refuses an unknown one', () => {
  expect(
    poolEntries(['kie', 'kie', { provider: 'vertex', name: 'vertex-eu' }, 'kie']).map((e) => e.name),
  ).toEqual(['kie', 'kie-2', 'vertex-eu', 'kie-3']);
  expect(() => poolEntries(['kie', 'openai' as 'kie'])).toThrow(/Unknown provider "openai"/);
  expect(() => poolEntries([])).toThrow(/at least one upstream/);
});

it('takes the pool quota minimum as the first window by which the quotas together allow the burst', () => {
  const q = (limit: number, windowMs: number) => ({ limit, windowMs });
  // One upstream: (tasks / limit - 1) windows, as the single-provider burst figure.
  expect(poolQuotaMinimumMs(200, [q(20, 2000)])).toBe(18_000);
  // Three of 5 per 2 s: 15 at once, 15 more every 2 s, so 45 by 4 s and 46 by 6 s.
  expect(poolQuotaMinimumMs(45, [q(5, 2000), q(5, 2000), q(5, 2000)])).toBe(4000);
  expect(poolQuotaMinimumMs(46, [q(5, 2000), q(5, 2000), q(5, 2000)])).toBe(6000);
  // Unlike windows: 20 per 2 s and 50 per 12 s make 70 at once, 90 by 2 s.
  expect(poolQuotaMinimumMs(71, [q(20, 2000), q(50, 12_000)])).toBe(2000);
  expect(poolQuotaMinimumMs(70, [q(20, 2000), q(50, 12_000)])).toBe(0);
});

it('drains a burst across the three upstreams, each task polled and downloaded where it was made', {
  timeout: 150_000,
}, async () => {
  const tasks = 45;
  const prompts = Array.from({ length: tasks }, (_, i) => `pool burst task ${i}`);
  const sentAt = Date.now();
  const taskIds = await submitAll(prompts);
  const done = await finished(taskIds, prompts, 120_000);
  console.log(`pool burst: all ended ${((Date.now() - sentAt) / 1000).toFixed(1)} s after they were sent`);

  const audit = auditPool(stack.upstreams, done);
  expect(audit.missing).toEqual([]);
  expect(audit.duplicated).toEqual([]);
  expect(audit.misplaced).toEqual([]);
  expect(audit.stray).toEqual([]);
  expect(audit.unobserved).toEqual([]);
  const submits = Object.values(stack.upstreams).flatMap((u) =>
    u.requests.filter((r) => r.kind === 'submit' && r.status === 200).map((r) => r.at),
  );
  const drainMs = Math.max(...submits) - Math.min(...submits);
  const minimumMs = poolQuotaMinimumMs(tasks, [quota, quota, quota]);
  console.log(
    `pool burst: ${tasks} tasks, drained in ${(drainMs / 1000).toFixed(1)} s (pool quota minimum ` +
      `${(minimumMs / 1000).toFixed(1)} s): ${JSON.stringify(audit.perUpstream)}`,
  );
  // All three take a share, and never faster than their quotas allow. How close the drain comes to the
  // pool's minimum is the bench's figure (burst.pool.ratio): on a loaded machine the worker, not the
  // quotas, sets the pace, and the upstream first by name takes most.
  for (const traffic of Object.values(audit.perUpstream)) expect(traffic.tasks).toBeGreaterThan(0);
  expect(drainMs).toBeGreaterThanOrEqual(minimumMs);
  // A submit that reached an upstream late on a loaded machine may meet its window (and be retried): up to
  // 6 of 45 on CI with e2e files side by side, where a 2 s window's 150 ms margin is thin. With no quota
  // accounting, every submit past the pool's 15 per window would meet one (30 of 45). The quiet bench holds
  // the goal (burst.pool.upstream-429s).
  const quota429s = Object.values(audit.perUpstream).reduce((sum, t) => sum + t.quota429s, 0);
  expect(quota429s).toBeLessThanOrEqual(tasks * 0.2);
});

it('loses no task and generates none twice when an upstream goes down mid-burst; its circuit opens and closes', {
  timeout: 150_000,
}, async () => {
  // The upstream first by name: it takes the most work whatever the machine's load, so the outage is met.
  const gemini = stack.upstreams.gemini;
  if (!gemini) throw new Error('no gemini upstream');
  expect(await circuitOpen('gemini')).toBe(false);
  const prompts = Array.from({ length: 45 }, (_, i) => `pool failover task ${i}`);
  const taskIds = await submitAll(prompts);
  // Down once it has taken work of this burst, so some of its tasks are mid-generation when it goes.
  await waitUntil(
    'gemini accepts a task of the burst',
    async () => gemini.generations().some((g) => g.prompt.startsWith('pool failover')),
    60_000,
  );
  gemini.down();
  // The circuit changes on submits, so new work must keep coming: a trickle of tasks (asserted like the
  // rest) until it has opened and, once the upstream is back, closed again on a probe.
  let trickle = 0;
  const trickleUntil = (what: string, circuitIsOpen: boolean) =>
    waitUntil(
      what,
      async () => {
        if ((await circuitOpen('gemini')) === circuitIsOpen) return true;
        const prompt = `pool failover trickle ${trickle++}`;
        prompts.push(prompt);
        taskIds.push(await client.generate({ prompt, model: 'veo3_fast' }));
        await new Promise((r) => setTimeout(r, 400));
        return false;
      },
      60_000,
    );
  const openedAfterMs = await trickleUntil('the circuit opens', true);
  // Down a little past the cool-down, so a probe meets the outage; then back.
  await new Promise((r) => setTimeout(r, coolDownSeconds * 1000 + 500));
  gemini.up();
  const closedAfterMs = await trickleUntil('the circuit closes', false);
  const done = await finished(taskIds, prompts, 90_000);

  const audit = auditPool(stack.upstreams, done);
  console.log(
    `pool failover: ${taskIds.length} tasks, circuit opened ${(openedAfterMs / 1000).toFixed(1)} s after the outage, ` +
      `closed ${(closedAfterMs / 1000).toFixed(1)} s after the upstream came back: ${JSON.stringify(audit.perUpstream)}`,
  );
  expect(audit.missing).toEqual([]);
  expect(audit.duplicated).toEqual([]);
  expect(audit.misplaced).toEqual([]);
  expect(audit.stray).toEqual([]);
  expect(audit.unobserved).toEqual([]);
  // The outage was met (503s answered), and its tasks in flight finished on it once it was back.
  expect(audit.perUpstream.gemini?.unavailable).toBeGreaterThan(0);
  const geminiTasks = done.filter(
    (t) => t.upstream === 'gemini' && t.prompt.startsWith('pool failover task'),
  );
  expect(geminiTasks.length).toBeGreaterThan(0);
});
