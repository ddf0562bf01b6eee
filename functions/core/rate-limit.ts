import type { DepsFor } from './deps';
import { errors, RateLimitedError } from './errors';
import type { ApiKey } from './ports';
import type { RateLimit, RateWindow } from './rate-window';

export type RateLimitDeps = DepsFor<'quota' | 'settings'>;

/** The key's own limit, or the deployment's default (none when RATE_LIMIT is `off`). */
export function rateLimitFor(deps: DepsFor<'settings'>, key: ApiKey): RateLimit | undefined {
  return key.rateLimit ?? deps.settings.rateLimit;
}

/** How long a request keeps trying when it lost races to other instances, not the limit itself. */
const contentionBudgetMs = 3000;

/** The key's new-task window as the task store takes it with the task's write; none when unlimited. */
export function rateWindowFor(deps: DepsFor<'settings'>, key: ApiKey): RateWindow | undefined {
  const rule = rateLimitFor(deps, key);
  return rule && { scope: `rate#${key.keyHash}`, limit: rule.limit, windowMs: rule.windowSeconds * 1000 };
}

/**
 * Runs `write`, which takes a slot of `window` with the work it admits, answering 429 when the window is
 * full. Losing races to other instances on a busy key is not being over: those are tried again for a while.
 */
export async function withinRateLimit<T>(
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
 * Takes one of the key's new-task slots (shared by every API instance through the counters table), or
 * refuses with 429 before anything is written or charged. Only requests that create work call this.
 */
export async function takeRateSlot(deps: RateLimitDeps, key: ApiKey): Promise<void> {
  const rule = rateLimitFor(deps, key);
  if (!rule) return;
  const limit = { limit: rule.limit, windowMs: rule.windowSeconds * 1000 };
  const deadline = Date.now() + contentionBudgetMs;
  for (;;) {
    const decision = await deps.quota.tryAcquire(`rate#${key.keyHash}`, limit);
    if (decision.granted) return;
    // A burst of concurrent submits on one key contends for one counter: losing races is not being over.
    if (!decision.contended || Date.now() + decision.retryAfterMs > deadline) {
      throw errors.tooManyRequests(rule.limit, rule.windowSeconds);
    }
    await new Promise((done) => setTimeout(done, decision.retryAfterMs));
  }
}
