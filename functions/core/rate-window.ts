import { errors, RateLimitedError } from './errors';

/**
 * Every "N per window" rule, in one shape: a key's new tasks (`rate#<keyHash>`, also taken by 4K
 * renditions), the upstream's submit quota (scope: the provider's name). A slot is taken in the same
 * transaction as the write it admits (TaskStore.createCharged, transition, startRendition), so a refused
 * request writes nothing.
 */
export interface RateWindow {
  scope: string;
  limit: number;
  windowMs: number;
}

/**
 * "N per S seconds" as an operator writes it: RATE_LIMIT, and a key's own `rateLimit` as stored (the
 * shape on disk). It becomes a RateWindow in `keyRateWindow` only.
 */
export interface RateLimit {
  limit: number;
  windowSeconds: number;
}

/** Parses `20/10s` (or `20/10`): 20 per 10 seconds; `off` is no default limit. Throws on anything else. */
export function parseRateLimit(text: string): RateLimit | undefined {
  if (text.trim() === 'off') return undefined;
  const match = /^\s*(\d+)\s*\/\s*(\d+(?:\.\d+)?)\s*s?\s*$/.exec(text);
  const limit = Number(match?.[1]);
  const windowSeconds = Number(match?.[2]);
  if (!match || !Number.isInteger(limit) || limit < 1 || limit > 1000 || !(windowSeconds > 0)) {
    throw new Error(
      `a rate limit looks like 20/10s (1 to 1000 per a positive number of seconds) or off, got "${text}"`,
    );
  }
  return { limit, windowSeconds };
}

/**
 * A key's new-task window: its own `rateLimit`, else the deployment's default (RATE_LIMIT); none when
 * neither is set. Submits and 4K renditions take their slots from it.
 */
export function keyRateWindow(
  key: { keyHash: string; rateLimit?: RateLimit },
  fallback: RateLimit | undefined,
): RateWindow | undefined {
  const rule = key.rateLimit ?? fallback;
  return rule && { scope: `rate#${key.keyHash}`, limit: rule.limit, windowMs: rule.windowSeconds * 1000 };
}

/** How long a request keeps trying when it lost races to other instances, not the limit itself. */
const contentionBudgetMs = 3000;

/**
 * Runs `write`, which takes a slot of `window` with the work it admits, answering 429 when the window is
 * full. Losing races to other instances on a busy key is not being over: those are tried again for a while.
 */
export async function withinRateWindow<T>(
  window: RateWindow | undefined,
  write: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + contentionBudgetMs;
  for (;;) {
    try {
      return await write();
    } catch (error) {
      if (!(error instanceof RateLimitedError) || !window) throw error;
      if (!error.contended || Date.now() + error.retryAfterMs > deadline) {
        throw errors.tooManyRequests(window.limit, window.windowMs / 1000);
      }
      await new Promise((done) => setTimeout(done, error.retryAfterMs));
    }
  }
}

/**
 * The least added to an upstream's window in ours (upstreamMarginOf). We count a slot when it is granted (or at its reserved time), the
 * upstream when the submit arrives; two submits a window apart by our clock arrive closer by the spread of
 * what lies between (the HTTPS request, a reservation used a little late): this much of spread is covered.
 * Checked by the bench's burst.slot-reuse.* (how long after a window a slot was reused: 150 ms at the median
 * on a quiet machine, never below 0, so no upstream 429s).
 */
export const upstreamMarginMs = 150;

/**
 * The margin kept over an upstream's window: upstreamMarginMs, or 1 % of a long window, where more costs as
 * little (600 ms a minute). A loaded machine spread a submit's way to the upstream past 150 ms (three 429s on
 * Vertex AI's and the Gemini API's minute windows in one pool run at the published quotas).
 */
export function upstreamMarginOf(windowMs: number): number {
  return Math.max(upstreamMarginMs, Math.round(windowMs / 100));
}

/**
 * How far apart our clock and an upstream's may place one submit at most: a worker short of CPU, a fresh
 * connection's handshake (measured locally under a burst: up to ~450 ms between our send and the arrival,
 * against ~5 ms when idle). Our window's margin covers the usual spread; this one only judges a 429.
 */
const upstreamJitterMs = 1000;

/**
 * The window in which our own grants explain an upstream's 429 (no slot free in it): more than its limit
 * within its window and the jitter. Such a 429 is our timing at the edge of a window we filled ourselves,
 * not the upstream's health (the pool's circuit counts only the others: core/pool.ts).
 */
export function ownLoadWindow(quota: RateWindow): RateWindow {
  return { ...quota, limit: quota.limit + 1, windowMs: quota.windowMs + upstreamJitterMs };
}

/** An upstream's quota as we keep it: its window lengthened by our margin (upstreamMarginOf). */
export function upstreamWindow(quota: RateWindow): RateWindow {
  return { ...quota, windowMs: quota.windowMs + upstreamMarginOf(quota.windowMs) };
}

/**
 * A slot asked of a window: at `at` (epoch ms, a moment ahead; absent: now) or not at all. `release` gives
 * back a reservation the caller holds and will not use (a message delivered too late for it) in the same
 * write, so a slot reached late is not lost twice.
 */
export type SlotClaim = RateWindow & { at?: number; release?: number };

/**
 * The longest grant log a reservation may grow, in windows' worth of grants: a burst deeper than this
 * waits in the queue and reserves later, so the counter item stays a few KB (about 9 bytes a grant).
 */
const reservableWindows = 10;
/** Grants kept in one counter item at most, whatever the limit. */
const maxLoggedGrants = 2_000;

/**
 * The one "N per window" rule, on a sliding-window log: `grants` are the times (epoch ms) of the slots
 * granted, some possibly in the future (reservations). A grant at t is allowed while every window
 * (s − windowMs, s] that holds t holds fewer than `limit` grants, so never more than `limit` fall in any
 * window of that length, wherever it starts: as strict as an upstream counting a sliding window, and
 * stricter than one counting fixed windows (each fixed window is one of these). `limit` pass at once
 * after idleness and the long-run rate is limit/window.
 *
 * Without `reserveUntil`, a slot is granted only now (or at `at`, when later); otherwise the earliest
 * free slot from then on is reserved if it is not later than `reserveUntil`. `release` (a reservation given back) leaves the log
 * first. Refused: how long until the earliest free slot. The log returned holds every grant still
 * counted (newer than now − windowMs) and those a jitter older (ownLoadWindow judges a 429 by them), oldest
 * first.
 */
export function nextGrant(
  grants: readonly number[],
  now: number,
  rule: Pick<RateWindow, 'limit' | 'windowMs'>,
  { reserveUntil, release, at: asked }: { reserveUntil?: number; release?: number; at?: number } = {},
): { granted: true; at: number; grants: number[] } | { granted: false; retryAfterMs: number } {
  const { limit, windowMs } = rule;
  const live = grants.filter((t) => t > now - windowMs - upstreamJitterMs).sort((a, b) => a - b);
  const released = release === undefined ? -1 : live.indexOf(release);
  if (released >= 0) live.splice(released, 1);
  // Grants at or before t, by binary search on the sorted log.
  const upTo = (t: number) => {
    let lo = 0;
    let hi = live.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((live[mid] as number) <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const countIn = (end: number) => upTo(end) - upTo(end - windowMs);
  // The windows holding t end in [t, t + windowMs); their counts only rise at a grant, so those ends suffice.
  const fits = (t: number) => {
    if (countIn(t) >= limit) return false;
    for (let i = upTo(t); i < live.length && (live[i] as number) < t + windowMs; i++) {
      if (countIn(live[i] as number) >= limit) return false;
    }
    return true;
  };
  // A slot frees only when a grant leaves a window (at g + windowMs): those, and now, are the candidates.
  const from = Math.max(now, asked ?? now);
  const candidates = [from, ...live.map((g) => g + windowMs).filter((t) => t > from)].sort((a, b) => a - b);
  const at = candidates.find(fits) ?? Math.max(from, (live.at(-1) ?? now) + windowMs);
  // The grants kept only for judging a 429 (older than a window) do not count against the log's length.
  const counted = live.length - upTo(now - windowMs);
  const logFull = counted >= Math.max(limit, Math.min(reservableWindows * limit, maxLoggedGrants));
  if (at === from || (reserveUntil !== undefined && at <= reserveUntil && !logFull)) {
    return { granted: true, at, grants: [...live, at].sort((a, b) => a - b) };
  }
  return { granted: false, retryAfterMs: Math.max(1, Math.ceil(at - now)) };
}

/**
 * Slots free now by `grants` (the log as last seen): 0 when nextGrant would refuse the claim (now, or at
 * its `at` with its `release` given back), else at least 1: the limit less the grants within a window of
 * now, before or after.
 */
export function freeSlotsOf(
  grants: readonly number[],
  now: number,
  rule: Pick<SlotClaim, 'limit' | 'windowMs' | 'at' | 'release'>,
): number {
  if (!nextGrant(grants, now, rule, { at: rule.at, release: rule.release }).granted) return 0;
  // Slots taken a moment ahead and reservations within a window hold it as much as those taken already.
  const held =
    grants.filter((t) => t > now - rule.windowMs && t < now + rule.windowMs).length -
    (rule.release === undefined ? 0 : 1);
  return Math.max(1, rule.limit - held);
}
