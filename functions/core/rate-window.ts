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
 * write, so a slot reached late is not lost twice. With `carry` (a slot reached late, moved to `at`), the
 * reservations anchored on the released slot (a window after it, a window after that…) move with it by as
 * much, when the window has room for that and not otherwise: the slot keeps its place in the line, instead
 * of stepping back to its end and leaving a slot of a full window unused.
 */
export type SlotClaim = RateWindow & { at?: number; release?: number; carry?: boolean };

/**
 * A window's log: the times (epoch ms) of the slots granted, some possibly in the future (reservations),
 * and where reservations carried by a late slot went (`moves`, [from, to]): their holders find them by
 * these (slotNow).
 */
export interface SlotLog {
  grants: readonly number[];
  moves?: readonly (readonly [number, number])[];
}

/**
 * Where a slot granted at `at` is now: `at`, or where the reservations carried with a late slot (SlotClaim
 * `carry`) took it, each move followed.
 */
export function slotNow(log: SlotLog, at: number): number {
  let now = at;
  for (let hops = 0; hops <= (log.moves?.length ?? 0); hops++) {
    const move = log.moves?.find(([from]) => from === now);
    if (!move) break;
    now = move[1];
  }
  return now;
}

/**
 * How far ahead a reservation must be to be carried: its holder reads where its slot is this long before it
 * at most (core/stages/generate.ts slotCheckLeadMs), and the write that carries it may take the rest.
 */
export const carryNoticeMs = 1500;

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
 * free slot from then on is reserved if it is not later than `reserveUntil`. `release` (a reservation
 * given back, found where it was carried) leaves the log first; with `carry`, the reservations anchored on
 * it move as far as the slot does (SlotClaim), when every window still holds `limit` at most. Refused: how
 * long until the earliest free slot. The log returned holds every grant still counted (newer than
 * now − windowMs) and those a jitter older (ownLoadWindow judges a 429 by them), oldest first.
 */
export function nextGrant(
  log: SlotLog,
  now: number,
  rule: Pick<RateWindow, 'limit' | 'windowMs'>,
  {
    reserveUntil,
    release,
    at: asked,
    carry,
  }: { reserveUntil?: number; release?: number; at?: number; carry?: boolean } = {},
):
  | { granted: true; at: number; grants: number[]; moves: [number, number][] }
  | { granted: false; retryAfterMs: number } {
  const { limit, windowMs } = rule;
  const kept = now - windowMs - upstreamJitterMs;
  const live = log.grants.filter((t) => t > kept).sort((a, b) => a - b);
  const moves = (log.moves ?? []).filter(([, to]) => to > kept).map(([a, b]): [number, number] => [a, b]);
  const releasedAt = release === undefined ? undefined : slotNow({ grants: live, moves }, release);
  const released = releasedAt === undefined ? -1 : live.indexOf(releasedAt);
  if (released >= 0) live.splice(released, 1);
  const from = Math.max(now, asked ?? now);
  // A slot frees only when a grant leaves a window (at g + windowMs): those, and now, are the candidates.
  const candidates = [from, ...live.map((g) => g + windowMs).filter((t) => t > from)].sort((a, b) => a - b);
  const at = candidates.find((t) => fits(live, t, rule)) ?? Math.max(from, (live.at(-1) ?? now) + windowMs);
  if (at > from && carry && releasedAt !== undefined && released >= 0 && from > releasedAt) {
    const carried = carryAnchored(live, releasedAt, from - releasedAt, now, windowMs);
    const grants = carried && [...carried.grants, from].sort((a, b) => a - b);
    if (carried && grants && !overfull(grants, now, rule))
      return { granted: true, at: from, grants, moves: [...moves, ...carried.moves] };
  }
  // The grants kept only for judging a 429 (older than a window) do not count against the log's length.
  const counted = live.length - upTo(live, now - windowMs);
  const logFull = counted >= Math.max(limit, Math.min(reservableWindows * limit, maxLoggedGrants));
  if (at === from || (reserveUntil !== undefined && at <= reserveUntil && !logFull)) {
    return { granted: true, at, grants: [...live, at].sort((a, b) => a - b), moves };
  }
  return { granted: false, retryAfterMs: Math.max(1, Math.ceil(at - now)) };
}

/** Grants at or before t in a sorted log (binary search). */
function upTo(sorted: readonly number[], t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Whether a grant at t leaves every window of the sorted log at `limit` or fewer. */
function fits(
  sorted: readonly number[],
  t: number,
  { limit, windowMs }: Pick<RateWindow, 'limit' | 'windowMs'>,
) {
  const countIn = (end: number) => upTo(sorted, end) - upTo(sorted, end - windowMs);
  if (countIn(t) >= limit) return false;
  // The windows holding t end in [t, t + windowMs); their counts only rise at a grant, so those ends suffice.
  for (let i = upTo(sorted, t); i < sorted.length && (sorted[i] as number) < t + windowMs; i++) {
    if (countIn(sorted[i] as number) >= limit) return false;
  }
  return true;
}

/** Whether a window ending now or later holds more than `limit` grants of the sorted log. */
function overfull(
  sorted: readonly number[],
  now: number,
  { limit, windowMs }: Pick<RateWindow, 'limit' | 'windowMs'>,
) {
  for (let i = upTo(sorted, now - 1); i < sorted.length; i++) {
    const end = sorted[i] as number;
    if (i + 1 - upTo(sorted, end - windowMs) > limit) return true;
  }
  return false;
}

/**
 * The log with the reservations anchored on a slot at `slot` (at slot + windowMs, + 2·windowMs… while each is
 * there) moved `by` later, and those moves; undefined when one cannot be moved: due within carryNoticeMs
 * (its holder may have read it), or its time not one grant's alone before or after (a holder could not
 * tell its own).
 */
function carryAnchored(live: readonly number[], slot: number, by: number, now: number, windowMs: number) {
  if (by >= windowMs) return undefined;
  const grants = [...live];
  const moves: [number, number][] = [];
  for (let t = slot + windowMs; ; t += windowMs) {
    const i = live.indexOf(t);
    if (i < 0) break;
    if (t <= now + carryNoticeMs || live.lastIndexOf(t) !== i || live.includes(t + by)) return undefined;
    grants[i] = t + by;
    moves.push([t, t + by]);
  }
  return { grants, moves };
}

/**
 * Slots free now by the log as last seen: 0 when nextGrant would refuse the claim (now, or at its `at`
 * with its `release` given back), else at least 1: the limit less the grants within a window of now,
 * before or after.
 */
export function freeSlotsOf(
  log: SlotLog,
  now: number,
  rule: Pick<SlotClaim, 'limit' | 'windowMs' | 'at' | 'release' | 'carry'>,
): number {
  if (slotFreeInMsOf(log, now, rule) > 0) return 0;
  // Slots taken a moment ahead and reservations within a window hold it as much as those taken already.
  const held =
    log.grants.filter((t) => t > now - rule.windowMs && t < now + rule.windowMs).length -
    (rule.release === undefined ? 0 : 1);
  return Math.max(1, rule.limit - held);
}

/**
 * How long until nextGrant would grant the claim (now, or at its `at` with its `release` given back) by the
 * log as last seen: 0 when it would now.
 */
export function slotFreeInMsOf(
  log: SlotLog,
  now: number,
  rule: Pick<SlotClaim, 'limit' | 'windowMs' | 'at' | 'release' | 'carry'>,
): number {
  const decision = nextGrant(log, now, rule, { at: rule.at, release: rule.release, carry: rule.carry });
  return decision.granted ? 0 : decision.retryAfterMs;
}
