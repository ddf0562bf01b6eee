import { cpus } from 'node:os';

/** The machine's CPU time at one instant, summed over every core: busy (all but idle) and in all. */
export interface CpuSample {
  at: number;
  busyMs: number;
  totalMs: number;
}

/**
 * The share of the machine's CPU time spent busy from `from` to `to` (Date.now() ms), every process
 * counted (the stack, DynamoDB Local's JVM, the simulator's thread, the bench's clients): between the first
 * and the last sample inside the stretch. NaN when fewer than two samples fall within it.
 */
export function busyShare(samples: readonly CpuSample[], from: number, to: number): number {
  const inside = samples.filter((s) => s.at >= from && s.at <= to);
  const first = inside[0];
  const last = inside.at(-1);
  if (!first || !last || last.totalMs === first.totalMs) return Number.NaN;
  return (last.busyMs - first.busyMs) / (last.totalMs - first.totalMs);
}

function sample(): CpuSample {
  let busyMs = 0;
  let totalMs = 0;
  for (const { times } of cpus()) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    totalMs += all;
    busyMs += all - times.idle;
  }
  return { at: Date.now(), busyMs, totalMs };
}

/**
 * Samples the machine's CPU every `everyMs` until stopped (os.cpus(): the kernel's per-core counters,
 * in clock ticks of 10 ms), so a run can say how busy the machine was over any stretch of it.
 */
export function watchMachineCpu(everyMs = 50): { samples: CpuSample[]; stop(): void } {
  const samples = [sample()];
  const timer = setInterval(() => samples.push(sample()), everyMs);
  timer.unref();
  return {
    samples,
    stop: () => {
      clearInterval(timer);
      samples.push(sample());
    },
  };
}
