import { startLocalStack } from '../../local/stack';
import { figure, quantile, type Results, round, stats } from '../results';
import { apiCalls, type RecordData, runGroup, sleep } from './common';

/**
 * 5. poll: how long after the upstream finished a generation our record says so, and how many status
 * requests each task cost. The simulator (Gemini API shape: no push, only polling) draws each latency
 * log-uniformly from Veo's 11 s – 6 min, divided by `scale`; the poll schedule is scaled alike
 * (POLL_INTERVAL_SECONDS 1 locally for 10 deployed). Delays are in the scaled time of the run.
 */
const scale = 10;
const tasks = 60;
const staggerMs = 100;

async function poll(): Promise<Results> {
  const stack = await startLocalStack({
    port: 0,
    provider: 'simulator',
    pollIntervalSeconds: 1,
    devCredits: 1_000_000_000,
    simulator: {
      latencyMs: { min: 11_000 / scale, max: 360_000 / scale, distribution: 'log-uniform' },
      seed: 5,
    },
    environment: { RATE_LIMIT: 'off', QUOTA_LIMIT: '1000', QUOTA_WINDOW_SECONDS: '1' },
  });
  try {
    const api = apiCalls(stack.url, stack.apiKey);
    const byPrompt = new Map<string, string>();
    // Staggered as clients would arrive, so the polls do not all fall on the same seconds.
    for (let i = 0; i < tasks; i++) {
      const prompt = `poll bench ${i}`;
      const { status, taskId } = await api.generate({ prompt });
      if (status !== 200 || !taskId) throw new Error(`submit answered ${status}`);
      byPrompt.set(prompt, taskId);
      await sleep(staggerMs);
    }
    const records = new Map<string, RecordData>();
    const deadline = Date.now() + (360_000 / scale) * 2 + 30_000;
    while (records.size < tasks && Date.now() < deadline) {
      await Promise.all(
        [...byPrompt.values()]
          .filter((taskId) => !records.has(taskId))
          .map(async (taskId) => {
            const record = await api.record(taskId);
            if (record && record.successFlag !== 0) records.set(taskId, record);
          }),
      );
      if (records.size < tasks) await sleep(1000);
    }
    if (records.size < tasks) throw new Error(`${tasks - records.size} tasks did not finish`);

    const delays: number[] = [];
    const detect: number[] = [];
    const completion: number[] = [];
    const atDeployedScale: number[] = [];
    const polls: number[] = [];
    const latencies: number[] = [];
    for (const generation of stack.simulator.generations()) {
      const taskId = byPrompt.get(generation.prompt);
      const record = taskId ? records.get(taskId) : undefined;
      if (!record?.completeTime || generation.firstDonePollAt === undefined) {
        throw new Error(`no completion measured for "${generation.prompt}"`);
      }
      const seen = generation.firstDonePollAt - generation.doneAt;
      const stored = record.completeTime - generation.firstDonePollAt;
      delays.push(record.completeTime - generation.doneAt);
      detect.push(seen);
      completion.push(stored);
      // The schedule's share grows with the scale, the completion's does not.
      atDeployedScale.push(seen * scale + stored);
      polls.push(generation.polls);
      latencies.push(generation.doneAt - generation.createdAt);
    }
    const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
    const [d, s, c, deployed] = [delays, detect, completion, atDeployedScale].map(sorted) as number[][];
    const p = (values: number[] | undefined, q: number) => quantile(values ?? [], q);
    const pollStats = stats(polls);
    const latency = stats(latencies);
    return {
      'poll.tasks': figure(polls.length, 'tasks'),
      'poll.scale': figure(scale, '× faster than Veo'),
      'poll.latency.min': figure(latency.min / 1000, 's'),
      'poll.latency.median': figure(latency.median / 1000, 's'),
      'poll.latency.max': figure(latency.max / 1000, 's'),
      // Every task's delay, for the histogram in bench/report.html.
      'poll.delay.p50': figure(p(d, 0.5), 'ms', { samples: delays.map(round) }),
      'poll.delay.p95': figure(p(d, 0.95), 'ms'),
      'poll.delay.max': figure(p(d, 1), 'ms'),
      'poll.delay.schedule.p50': figure(p(s, 0.5), 'ms'),
      'poll.delay.schedule.p95': figure(p(s, 0.95), 'ms'),
      'poll.delay.completion.p50': figure(p(c, 0.5), 'ms'),
      'poll.delay.completion.p95': figure(p(c, 0.95), 'ms'),
      'poll.delay.deployed-estimate.p50': figure(p(deployed, 0.5) / 1000, 's'),
      'poll.delay.deployed-estimate.p95': figure(p(deployed, 0.95) / 1000, 's'),
      'poll.polls-per-task.min': figure(pollStats.min, 'polls'),
      'poll.polls-per-task.median': figure(pollStats.median, 'polls'),
      'poll.polls-per-task.max': figure(pollStats.max, 'polls'),
    };
  } finally {
    await stack.stop();
  }
}

await runGroup('poll', poll);
