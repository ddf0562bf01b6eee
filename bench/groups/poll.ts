import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { figure, quantile, type Results, round, stats } from '../results';
import { apiCalls, type RecordData, runGroup, sleep } from './common';

/**
 * 5. poll: how long after the upstream finished a generation our record says so, and how many status
 * requests each task cost, polling alone and with the upstream's push, apart. The simulator (Gemini API
 * shape) draws each latency log-uniformly from Veo's 11 s – 6 min, divided by `scale`; the poll
 * schedule is scaled alike (POLL_INTERVAL_SECONDS 1 locally for 10 deployed). Delays are in the scaled
 * time of the run. The poll run is on a stack with the Gemini API's webhooks off (the schedule alone, as
 * an upstream without push); the push run (`--push`, `poll.push.*`) on one with them on, after 20 tasks
 * not measured, where a task is polled only when its push asks (or, were it lost, after PUSH_CHECK_SECONDS). Each in a process of its
 * own: the handlers read their configuration once, at import.
 * Usage: node --import tsx bench/groups/poll.ts [--push] <results file>
 */
const scale = 10;
const tasks = 60;
/** Tasks the push run's stack makes first, not measured. */
const warmUpTasks = 20;
const staggerMs = 100;
/** Past the schedule's longest wait (3 × the interval), so a task's last poll after its end is counted. */
const settleMs = 4000;

const goals = { p50: '≤ 3 s (deployed)', p95: '≤ 10 s (deployed)', polls: '≤ 8 (median)' };

const webhooks = process.argv.includes('--push');

async function poll(): Promise<Results> {
  return webhooks
    ? pushFigures(
        await onStack(true, async (stack) => {
          // As warm as the stack polling alone leaves it: a fresh process's first pushes meet cold code
          // and connections (p95 0.13–0.18 s unwarmed against 0.04–0.06 s), which a deployed poller that
          // pushes arrive at all day is not.
          await run(stack, 'warm-up', warmUpTasks);
          return run(stack, 'push');
        }),
      )
    : pollFigures(await onStack(false, (stack) => run(stack, 'poll')));
}

/** `body` on a stack of the simulator with the Gemini API's webhooks on or off. */
async function onStack<T>(webhooks: boolean, body: (stack: RunningLocalStack) => Promise<T>): Promise<T> {
  const stack = await startLocalStack({
    port: 0,
    provider: 'simulator',
    pollIntervalSeconds: 1,
    devCredits: 1_000_000_000,
    simulator: {
      latencyMs: { min: 11_000 / scale, max: 360_000 / scale, distribution: 'log-uniform' },
      seed: 5,
    },
    environment: {
      RATE_LIMIT: 'off',
      QUOTA_LIMIT: '1000',
      QUOTA_WINDOW_SECONDS: '1',
      GEMINI_WEBHOOKS: String(webhooks),
    },
  });
  try {
    return await body(stack);
  } finally {
    await stack.stop();
  }
}

interface TaskRun {
  /** Upstream done → our record done. */
  delay: number;
  /** Upstream done → a status request first saw it done (the schedule's or the push's share). */
  seen: number;
  /** That request → our record done (download, store, record). */
  stored: number;
  polls: number;
  latency: number;
  /** Whether the push arrived before any poll saw the generation done. */
  byPush: boolean;
}

/** `tasks` staggered generations to completion; what each cost and how late each was noticed. */
async function run(stack: RunningLocalStack, name: string, count = tasks): Promise<TaskRun[]> {
  const api = apiCalls(stack.url, stack.apiKey);
  const byPrompt = new Map<string, string>();
  // Staggered as clients would arrive, so the polls do not all fall on the same seconds.
  for (let i = 0; i < count; i++) {
    const prompt = `${name} bench ${i}`;
    const { status, taskId } = await api.generate({ prompt });
    if (status !== 200 || !taskId) throw new Error(`submit answered ${status}`);
    byPrompt.set(prompt, taskId);
    await sleep(staggerMs);
  }
  const records = new Map<string, RecordData>();
  const deadline = Date.now() + (360_000 / scale) * 2 + 30_000;
  while (records.size < count && Date.now() < deadline) {
    await Promise.all(
      [...byPrompt.values()]
        .filter((taskId) => !records.has(taskId))
        .map(async (taskId) => {
          const record = await api.record(taskId);
          if (record && record.successFlag !== 0) records.set(taskId, record);
        }),
    );
    if (records.size < count) await sleep(1000);
  }
  if (records.size < count) throw new Error(`${count - records.size} tasks did not finish`);
  await sleep(settleMs);

  const runs: TaskRun[] = [];
  for (const generation of stack.simulator.generations()) {
    const taskId = byPrompt.get(generation.prompt);
    if (!taskId) continue;
    const record = records.get(taskId);
    if (!record?.completeTime || generation.firstDonePollAt === undefined) {
      throw new Error(`no completion measured for "${generation.prompt}"`);
    }
    const push = stack.simulator.callbacks.find((c) => c.url.includes(taskId) && c.status === 200);
    runs.push({
      delay: record.completeTime - generation.doneAt,
      seen: generation.firstDonePollAt - generation.doneAt,
      stored: record.completeTime - generation.firstDonePollAt,
      polls: generation.polls,
      latency: generation.doneAt - generation.createdAt,
      byPush: push !== undefined && push.at <= generation.firstDonePollAt,
    });
  }
  return runs;
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
const p = (values: number[], q: number) => quantile(sorted(values), q);

function pollFigures(runs: TaskRun[]): Results {
  const delays = runs.map((r) => r.delay);
  const seen = runs.map((r) => r.seen);
  const stored = runs.map((r) => r.stored);
  // The schedule's share grows with the scale, the completion's does not.
  const deployed = runs.map((r) => r.seen * scale + r.stored);
  const latency = stats(runs.map((r) => r.latency));
  return {
    'poll.tasks': figure(runs.length, 'tasks'),
    'poll.scale': figure(scale, '× faster than Veo'),
    'poll.latency.min': figure(latency.min / 1000, 's'),
    'poll.latency.median': figure(latency.median / 1000, 's'),
    'poll.latency.max': figure(latency.max / 1000, 's'),
    'poll.delay.schedule.p50': figure(p(seen, 0.5), 'ms'),
    'poll.delay.schedule.p95': figure(p(seen, 0.95), 'ms'),
    'poll.delay.completion.p50': figure(p(stored, 0.5), 'ms'),
    'poll.delay.completion.p95': figure(p(stored, 0.95), 'ms'),
    ...delayFigures('poll', delays, deployed, runs),
  };
}

/**
 * The push run. Its delay does not grow with the scale (the push goes out when the generation ends,
 * whatever it took), so the deployed estimate is the delay as measured, Google's own delivery time
 * (not published) left out. Its polls are the ones its push asked for: no schedule runs beside it.
 */
function pushFigures(runs: TaskRun[]): Results {
  const delays = runs.map((r) => r.delay);
  return {
    'poll.push.tasks': figure(runs.length, 'tasks'),
    'poll.push.noticed-by-push': figure(runs.filter((r) => r.byPush).length, 'tasks'),
    ...delayFigures('poll.push', delays, delays, runs),
  };
}

await runGroup(webhooks ? 'poll.push' : 'poll', poll);

/** A run's delays (each task's, for the histogram in bench/report.html), their deployed estimate and polls. */
function delayFigures(prefix: string, delays: number[], deployed: number[], runs: TaskRun[]): Results {
  const pollStats = stats(runs.map((r) => r.polls));
  return {
    [`${prefix}.delay.p50`]: figure(p(delays, 0.5), 'ms', { samples: delays.map(round) }),
    [`${prefix}.delay.p95`]: figure(p(delays, 0.95), 'ms'),
    [`${prefix}.delay.max`]: figure(p(delays, 1), 'ms'),
    [`${prefix}.delay.deployed-estimate.p50`]: figure(p(deployed, 0.5) / 1000, 's', { goal: goals.p50 }),
    [`${prefix}.delay.deployed-estimate.p95`]: figure(p(deployed, 0.95) / 1000, 's', { goal: goals.p95 }),
    [`${prefix}.polls-per-task.min`]: figure(pollStats.min, 'polls'),
    [`${prefix}.polls-per-task.median`]: figure(pollStats.median, 'polls', { goal: goals.polls }),
    [`${prefix}.polls-per-task.max`]: figure(pollStats.max, 'polls'),
  };
}
