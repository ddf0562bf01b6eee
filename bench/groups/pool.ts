import {
  auditPool,
  circuitOpen,
  type PooledTask,
  poolQuotaMinimumMs,
  waitUntil,
} from '../../local/pool-audit';
import { type LocalUpstream, startLocalStack } from '../../local/stack';
import { quotaTimeline } from '../quota-timeline';
import { figure, type Results, round, versus } from '../results';
import { apiCalls, eachLimited, runGroup, sleep } from './common';

/**
 * 9. pool (issue 16): three upstreams, one simulator each in its own wire format and its provider's
 * published quota: kie.ai's 20 per 10 s, Vertex AI's 50 per minute, the Gemini API's 10 per minute.
 *   `--real` (group pool-real), at those quotas:
 *   burst:    300 tasks at once drain at the pool's combined quota, no 429 reaching an upstream
 *             (burst.pool.*, the figure issue 16 names).
 *   Otherwise (group pool), with time scaled down 5× throughout (kie's 20 per 10 s is 20 per 2 s, the
 *   circuit's 30 s cool-down 6 s, a one-minute outage 12 s; `--scale 1` runs the same in real time, ~5 min):
 *   burst:    the same burst (burst.pool-scaled.*): our fixed costs (the 150 ms margin a window, the first
 *             window's spread while the stack accepts the burst) weigh five times as much against it.
 *   failover: 300 tasks at once, and kie (the largest share) down for the scaled minute a few seconds in:
 *             no task fails or is generated twice, kie's circuit opens and, once it is back, closes.
 * Pinning is checked from the simulators' request logs for each burst (*.misplaced, *.stray).
 */
const real = process.argv.includes('--real');
const scaleAt = process.argv.indexOf('--scale');
const scale = real ? 1 : scaleAt < 0 ? 5 : Number(process.argv[scaleAt + 1]);
if (!(scale >= 1)) throw new Error('--scale takes a number from 1 (real time) up');
const burstPrefix = real ? 'burst.pool' : 'burst.pool-scaled';
const tasks = 300;
const quotas = {
  vertex: { limit: 50, windowMs: 60_000 / scale },
  gemini: { limit: 10, windowMs: 60_000 / scale },
  kie: { limit: 20, windowMs: 10_000 / scale },
};
const outageMs = 60_000 / scale;
const coolDownSeconds = 30 / scale;
/** Seconds into the failover burst the upstream goes down. */
const downAfterMs = 4000;
const down = 'kie';
/** How long the simulators' count of accepted submits stands still before the tasks not yet upstream are read. */
const stallMs = 5000;

async function pool(): Promise<Results> {
  const stack = await startLocalStack({
    port: 0,
    pool: (['vertex', 'gemini', 'kie'] as const).map((provider) => ({ provider, quota: quotas[provider] })),
    simulatorLatencyMs: 2000,
    pollIntervalSeconds: 1,
    devCredits: 1_000_000_000,
    environment: { RATE_LIMIT: 'off', CIRCUIT_COOL_DOWN_SECONDS: String(coolDownSeconds) },
  });
  try {
    const api = apiCalls(stack.url, stack.apiKey);
    const minimumMs = poolQuotaMinimumMs(tasks, Object.values(quotas));

    /** The submits the upstreams accepted so far: a count, cheap to read across a simulator's thread. */
    const acceptedSoFar = () => Object.values(stack.upstreams).reduce((sum, u) => sum + u.stats.submits, 0);

    /**
     * Submits the burst's tasks at once (with `during` running alongside from the first submit); resolves
     * once each has ended (or the deadline passed).
     */
    const run = async (name: string, during?: () => Promise<void>) => {
      const prompts = Array.from({ length: tasks }, (_, i) => `pool ${name} task ${i}`);
      const since = Date.now();
      const acceptedBefore = acceptedSoFar();
      const follow = during?.();
      const submitted: { prompt: string; taskId?: string; status: number }[] = [];
      // As many clients as the soak's: the local gateway resets connections past a few dozen at once.
      await eachLimited(prompts, 16, async (prompt) => {
        const answer = await api.generate({ prompt, model: 'veo3_fast' }).catch(() => ({ status: 0 }));
        submitted.push({ prompt, ...answer });
      });
      const ended: PooledTask[] = [];
      const refused = submitted.filter((s) => !s.taskId);
      let failed = refused.length;
      // Why tasks failed, for whoever reads the run's output (the figures count them).
      const reasons = new Map<string, number>();
      for (const s of refused)
        reasons.set(`submit answered ${s.status}`, (reasons.get(`submit answered ${s.status}`) ?? 0) + 1);
      const pending = new Map(submitted.flatMap((s) => (s.taskId ? [[s.taskId, s.prompt] as const] : [])));
      // Room for a drain several times the quota minimum (and, in the failover, the outage and cool-down).
      const deadline = Date.now() + Math.max(180_000, 12 * minimumMs);
      // The drain is watched in the simulators' own logs, as the single-upstream burst's is: 300 clients
      // asking for their records every half second would take the CPU from the stack being measured (all
      // on one machine). Tasks not yet upstream are looked up only once the simulators' count has stood
      // still a while, so one that failed before reaching any does not hold the run to its deadline, and a
      // drain that moves is not slowed by the bench's own reads (at 5 s in, half the burst still waits).
      const upstreamPrompts = () =>
        new Set(Object.values(stack.upstreams).flatMap((u) => u.generations().map((g) => g.prompt)));
      const endedBefore = new Set<string>();
      let lookedUp = Date.now();
      let moved = { count: acceptedSoFar(), at: Date.now() };
      while (Date.now() < deadline) {
        const count = acceptedSoFar();
        if (count !== moved.count) moved = { count, at: Date.now() };
        const stalled = Date.now() - Math.max(moved.at, lookedUp) > stallMs;
        if (count - acceptedBefore < pending.size && !stalled) {
          // Not all upstream yet by the simulators' counts, and still moving: wait (their generations are
          // read only then).
          await sleep(250);
          continue;
        }
        const seen = upstreamPrompts();
        const notYet = [...pending].filter(
          ([taskId, prompt]) => !seen.has(prompt) && !endedBefore.has(taskId),
        );
        if (notYet.length === 0) break;
        if (Date.now() - lookedUp > stallMs) {
          lookedUp = Date.now();
          await eachLimited(notYet, 8, async ([taskId]) => {
            const record = await api.record(taskId);
            if (record && record.successFlag !== 0) endedBefore.add(taskId);
          });
        }
        await sleep(250);
      }
      while (pending.size > 0 && Date.now() < deadline) {
        await eachLimited([...pending], 32, async ([taskId, prompt]) => {
          const record = await api.record(taskId);
          if (!record || record.successFlag === 0) return;
          pending.delete(taskId);
          if (record.successFlag !== 1) {
            failed++;
            const reason = `${record.errorCode} ${'errorMessage' in record ? String(record.errorMessage) : ''}`;
            reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
          }
          const upstream = 'upstream' in record ? record.upstream : null;
          ended.push({ taskId, prompt, upstream: typeof upstream === 'string' ? upstream : null });
        });
        if (pending.size > 0) await sleep(500);
      }
      await follow;
      if (reasons.size > 0) console.error(`pool ${name}: failed`, Object.fromEntries(reasons));
      const accepted = Object.values(stack.upstreams)
        .flatMap((u) => u.generations())
        .filter((g) => g.prompt.startsWith(`pool ${name} `))
        .map((g) => g.createdAt)
        .sort((a, b) => a - b);
      return {
        ended,
        failed,
        stuck: pending.size,
        drainMs: (accepted.at(-1) ?? 0) - (accepted[0] ?? 0),
        doneMs: Date.now() - since,
        audit: auditPool(stack.upstreams, ended),
      };
    };
    const refusedForQuota = () =>
      Object.values(stack.upstreams).reduce((sum, u) => sum + u.stats.refused.quota, 0);
    const shares = (audit: ReturnType<typeof auditPool>, prefix: string): Results =>
      Object.fromEntries(
        Object.entries(audit.perUpstream).map(([name, t]) => [
          `${prefix}.${name}.tasks`,
          figure(t.tasks, 'tasks'),
        ]),
      );

    // burst
    const burst = await run('burst');
    const burst429s = refusedForQuota();
    const results: Results = {
      [`${burstPrefix}.ratio`]: {
        ...versus(
          burst.drainMs / 1000,
          minimumMs / 1000,
          's',
          real ? '≤ 1.15× the pool quota minimum' : undefined,
        ),
      },
      [`${burstPrefix}.all-done`]: figure(burst.doneMs / 1000, 's'),
      [`${burstPrefix}.upstream-429s`]: figure(burst429s, 'responses', { goal: '0' }),
      [`${burstPrefix}.failed`]: figure(burst.failed + burst.stuck, 'tasks', { goal: '0' }),
      [`${burstPrefix}.duplicated`]: figure(burst.audit.duplicated.length, 'tasks', { goal: '0' }),
      [`${burstPrefix}.misplaced`]: figure(burst.audit.misplaced.length + burst.audit.stray.length, 'tasks', {
        goal: '0 (polls and downloads only to the task’s upstream)',
      }),
      ...shares(burst.audit, burstPrefix),
      [`${burstPrefix}.scale`]: figure(scale, '× faster than real time'),
      [`${burstPrefix}.quota-minimum`]: figure(round(minimumMs / 1000), 's'),
    };
    // Per upstream, how well its quota was used (bench/quota-timeline.ts): the first window's spread and
    // how long after each window a slot was reused.
    for (const [name, u] of Object.entries(stack.upstreams)) {
      const quota = quotas[name as keyof typeof quotas];
      const times = u
        .generations()
        .filter((g) => g.prompt.startsWith('pool burst '))
        .map((g) => g.createdAt);
      if (quota) Object.assign(results, quotaTimeline(`${burstPrefix}.${name}`, times, quota));
    }
    if (real) return results;

    // failover: the upstream goes down a few seconds after the burst starts, for the scaled minute.
    const upstream = stack.upstreams[down] as LocalUpstream;
    let openedAfterMs = Number.NaN;
    let closedAfterMs = Number.NaN;
    const failover = await run('failover', async () => {
      await sleep(downAfterMs);
      upstream.down();
      const downAt = Date.now();
      openedAfterMs = await waitUntil('the circuit opens', () => circuitOpen(down), outageMs).catch(
        () => Number.NaN,
      );
      await sleep(Math.max(0, downAt + outageMs - Date.now()));
      upstream.up();
      // The circuit closes on a probe, which needs new work: once the burst has all gone upstream, a
      // trickle of tasks (not counted in the burst) keeps some coming.
      let trickle = 0;
      closedAfterMs = await waitUntil(
        'the circuit closes',
        async () => {
          if (!(await circuitOpen(down))) return true;
          const started = Object.values(stack.upstreams)
            .flatMap((u) => u.generations())
            .filter((g) => g.prompt.startsWith('pool failover task')).length;
          if (started >= tasks)
            await api.generate({ prompt: `pool trickle ${trickle++}`, model: 'veo3_fast' });
          await sleep(300);
          return false;
        },
        60_000 + coolDownSeconds * 2000,
      ).catch(() => Number.NaN);
    });
    const unavailable = failover.audit.perUpstream[down]?.unavailable ?? 0;
    Object.assign(results, {
      'failover.failed': figure(failover.failed + failover.stuck, 'tasks', { goal: '0' }),
      'failover.duplicated': figure(failover.audit.duplicated.length, 'tasks', { goal: '0' }),
      'failover.misplaced': figure(failover.audit.misplaced.length + failover.audit.stray.length, 'tasks', {
        goal: '0',
      }),
      'failover.circuit-opened-after': figure(openedAfterMs / 1000, 's'),
      'failover.circuit-closed-after': figure(closedAfterMs / 1000, 's'),
      'failover.drain': versus(failover.drainMs / 1000, minimumMs / 1000, 's'),
      'failover.all-done': figure(failover.doneMs / 1000, 's'),
      'failover.outage': figure(outageMs / 1000, 's'),
      'failover.upstream-503s': figure(unavailable, 'responses'),
      'failover.upstream-429s': figure(refusedForQuota() - burst429s, 'responses', { goal: '0' }),
      ...shares(failover.audit, 'failover'),
    });
    return results;
  } finally {
    await stack.stop();
  }
}

await runGroup(real ? 'pool-real' : 'pool', pool);
