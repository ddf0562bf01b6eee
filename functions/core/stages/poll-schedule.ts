import type { Settings } from '../deps';
import type { PollMessage } from '../messages';
import { upstreamField } from '../pool';
import type { Task } from '../task/task';

/**
 * Generation times observed per model and resolution, from this poller's recent completions (the last
 * `keep` of each): enough for polls to cluster where videos of that kind finish. Kept in the warm
 * container's memory, so it costs no AWS call; a cold container starts without and uses the
 * elapsed-time rule until it has seen `minSamples` completions of a kind.
 */
export class GenerationTimes {
  private readonly byShape = new Map<string, number[]>();

  constructor(
    private readonly keep = 32,
    private readonly minSamples = 5,
  ) {}

  observe(shape: string, ms: number): void {
    if (!(ms > 0)) return;
    const times = this.byShape.get(shape) ?? [];
    times.push(ms);
    if (times.length > this.keep) times.shift();
    this.byShape.set(shape, times);
  }

  /** The range most videos of this shape finish in (fastest and 90th percentile), once enough were seen. */
  range(shape: string | undefined): ObservedRange | undefined {
    const times = shape === undefined ? undefined : this.byShape.get(shape);
    if (!times || times.length < this.minSamples) return undefined;
    const sorted = [...times].sort((a, b) => a - b);
    return { fastestMs: sorted[0] ?? 0, p90Ms: sorted[Math.floor(0.9 * (sorted.length - 1))] ?? 0 };
  }
}

export interface ObservedRange {
  fastestMs: number;
  p90Ms: number;
}

/** The poller's one set of observations (module state lives as long as the warm container). */
export const generationTimes = new GenerationTimes();

/** What the observations are kept by: the model and the resolution asked of the upstream. */
export function shapeOf(task: Pick<Task, 'request' | 'asked'>): string {
  return `${task.request.model}/${task.asked?.resolution ?? '720p'}`;
}

/**
 * The wait before asking again. Without observations: a quarter of the time the generation has run so
 * far, kept between half and three times the first interval (5–30 s deployed). With them: nothing
 * before the fastest seen (less a tenth, so the range can widen downwards), then every 10 % of the
 * elapsed time (more for a wider range, at most ~6 polls across it) until past the 90th percentile
 * (where most finish, so polls cluster there), then the quarter rule again for the stragglers.
 *
 * Why (modelled, 20,000 generations): across Veo's whole 11 s – 6 min log-uniform spread no schedule
 * gets p50 ≤ 3 s and p95 ≤ 10 s with ≤ 8 polls (every 10 % of elapsed: p50 2.4 s, p95 19 s, 20 polls;
 * the quarter rule: 5.4 s / 25 s, 9 polls). One model and resolution spreads far less (e.g. 40–80 s):
 * starting at the fastest and polling every 10 % gives p50 2.8 s, p95 6.3 s with 5 polls after the first.
 */
export function pollDelaySeconds(
  settings: { pollIntervalSeconds: number },
  elapsedMs: number,
  observed?: ObservedRange,
): number {
  const first = settings.pollIntervalSeconds;
  const elapsed = Math.max(0, elapsedMs);
  const quarterRule = Math.max(1, Math.round(Math.min(Math.max(elapsed / 4000, first / 2), first * 3)));
  if (!observed) return quarterRule;
  const start = observed.fastestMs * 0.9;
  if (elapsed < start) return Math.max(1, Math.ceil((start - elapsed) / 1000));
  // The range in at most ~6 polls: every 10 % for a narrow one; a wide one (one shape spanning Veo's
  // whole 11 s – 6 min) is better served by the quarter rule.
  const step = Math.max(0.1, (observed.p90Ms / Math.max(1, observed.fastestMs)) ** (1 / 6) - 1);
  if (elapsed <= observed.p90Ms * 1.1 && step < 0.25) return Math.max(1, Math.round((elapsed * step) / 1000));
  return quarterRule;
}

/**
 * A submitted task's first poll: the worker's after its submit, or the sweeper's once a push it awaited
 * has not come (core/stages/sweep.ts).
 */
export function firstPoll(
  settings: Pick<Settings, 'upstreams'>,
  task: Task,
  operation: string,
  submittedAt: number,
): PollMessage {
  return {
    taskId: task.taskId,
    polls: 0,
    operation,
    deadlineAt: task.deadlineAt,
    submittedAt,
    ...upstreamField(settings, task.upstream),
    shape: shapeOf(task),
  };
}
