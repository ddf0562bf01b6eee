import { upstreamMarginOf } from '../functions/core/rate-window';
import { slotLatenessMs } from '../functions/core/stages/generate';
import { figure, quantile, type Results, round, versus } from './results';

/**
 * What a burst's upstream submits say about the quota's use, from their arrival times at the upstream
 * (the simulator's request log, accepted submits only) against its `limit` per `windowMs`:
 * - first-window.spread: the first `limit` submits' spread. The sliding window carries it on to every
 *   later window, so it adds to the drain once.
 * - slot-reuse.{min,p50,p95,max}: how long after a submit's window ended the submit that reused its slot
 *   arrived (a[i + limit] − a[i] − window). Ideal: our margin (rate-window.ts upstreamMarginOf), each
 *   millisecond above it is lost; below 0 the upstream counted limit + 1 in one window (a 429).
 * - slot-reuse.late: of those reuses, how many came more than `slotLatenessMs` after the margin, with
 *   their share as the ratio: the upstream's view of the worker's 'reserved slot missed' and 'slot missed
 *   before the submit' (a reserved slot's message delivered late, or its write too slow), while every task
 *   of the burst is still waiting for a slot. Seen from the upstream it counts any slot reused that late.
 */
export function quotaTimeline(
  prefix: string,
  arrivals: readonly number[],
  quota: { limit: number; windowMs: number },
): Results {
  const a = [...arrivals].sort((x, y) => x - y);
  const reuse: number[] = [];
  for (let i = 0; i + quota.limit < a.length; i++) {
    reuse.push((a[i + quota.limit] as number) - (a[i] as number) - quota.windowMs);
  }
  reuse.sort((x, y) => x - y);
  const ms = (value: number) => figure(Number.isFinite(value) ? round(value) : Number.NaN, 'ms');
  return {
    [`${prefix}.first-window.spread`]: ms(
      (a[Math.min(quota.limit, a.length) - 1] ?? Number.NaN) - (a[0] ?? Number.NaN),
    ),
    [`${prefix}.slot-reuse.min`]: ms(reuse[0] ?? Number.NaN),
    [`${prefix}.slot-reuse.p50`]: ms(quantile(reuse, 0.5)),
    [`${prefix}.slot-reuse.p95`]: ms(quantile(reuse, 0.95)),
    [`${prefix}.slot-reuse.max`]: ms(reuse.at(-1) ?? Number.NaN),
    [`${prefix}.slot-reuse.late`]:
      reuse.length === 0
        ? figure(0, 'slots')
        : versus(
            reuse.filter((late) => late > upstreamMarginOf(quota.windowMs) + slotLatenessMs).length,
            reuse.length,
            'slots',
          ),
  };
}
