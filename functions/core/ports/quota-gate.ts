/** A rate shared by every worker instance, e.g. the upstream's submit quota. */
export interface QuotaGate {
  /**
   * Takes one slot if one is free now; otherwise says how long to wait for the next. `limit` overrides
   * the gate's configured limit for the scope (per-key rate limits, where each key may have its own).
   * `contended`: refused only because other instances kept winning the race, not because it is full.
   */
  tryAcquire(
    scope: string,
    limit?: { limit: number; windowMs: number },
  ): Promise<{ granted: true } | { granted: false; retryAfterMs: number; contended?: boolean }>;
}
