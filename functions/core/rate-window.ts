/** A window of at most `limit` grants per `windowMs` for one scope (e.g. a key's new tasks). */
export interface RateWindow {
  scope: string;
  limit: number;
  windowMs: number;
}

/** New tasks a key may submit per window. */
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
