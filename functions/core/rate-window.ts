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
