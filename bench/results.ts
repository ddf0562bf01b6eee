/** One figure of bench/results.json. */
export interface Figure {
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
  goal?: string;
  /** The raw measurements behind the figure, in its unit, where a chart of bench/report.html draws them. */
  samples?: number[];
}

export type Results = Record<string, Figure>;

export function figure(value: number, unit: string, extra: Omit<Figure, 'value' | 'unit'> = {}): Figure {
  return { value: round(value), unit, ...extra };
}

/** A figure against its baseline, with the ratio of the two. */
export function versus(value: number, baseline: number, unit: string, goal?: string): Figure {
  return {
    value: round(value),
    unit,
    baseline: round(baseline),
    ratio: round(value / baseline),
    ...(goal ? { goal } : {}),
  };
}

export function round(n: number): number {
  return Math.abs(n) >= 100 ? Math.round(n * 10) / 10 : Math.round(n * 1000) / 1000;
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

export function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    min: sorted[0] ?? Number.NaN,
    median: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

/** results.json as written: one figure per line or so, a figure's raw samples on one line rather than one each. */
export function formatResults(results: Results): string {
  const text = JSON.stringify(results, null, 2).replace(
    /\[\s+([-\d.e+,\s]+?)\s+\]/g,
    (_, inner: string) => `[${inner.split(/,\s+/).join(', ')}]`,
  );
  return `${text}\n`;
}

/**
 * One figure's repeats (each a run of the same group): the run whose `key` ratio is the median gives every figure,
 * so they stay one run's; `key.min` / `key.max` are the other ends; each of `counted` (429s, failures) is summed
 * over all the runs, so a goal of 0 holds for every one of them.
 */
export function medianOfRepeats(runs: Results[], key: string, counted: string[]): Results {
  const ratio = (r: Results) => r[key]?.ratio ?? Number.NaN;
  const sorted = [...runs].sort((a, b) => ratio(a) - ratio(b));
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  const first = sorted[0];
  const last = sorted.at(-1);
  if (!median || !first || !last) throw new Error(`no runs of ${key}`);
  const { goal: _, ...lowest } = first[key] as Figure;
  const { goal: __, ...highest } = last[key] as Figure;
  const sums = Object.fromEntries(
    counted.map((name) => {
      const one = median[name] as Figure;
      const total = runs.reduce((sum, r) => sum + (r[name]?.value ?? 0), 0);
      return [name, { ...one, value: total, unit: `${one.unit} (${runs.length} runs)` }];
    }),
  );
  return {
    ...median,
    [`${key}.min`]: lowest,
    [`${key}.max`]: highest,
    [`${key}.repeats`]: figure(runs.length, 'runs'),
    ...sums,
  };
}
