/** A structured logger (Powertools' Logger satisfies it). */
export interface Log {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/**
 * Business metrics (Powertools' EMF in Lambda). Dimensions stay low-cardinality (model, provider);
 * anything per key or per task goes into `metadata`, which is searchable in the logs but not a dimension.
 */
export interface Metrics {
  count(name: string, dimensions?: Record<string, string>, metadata?: Record<string, string>): void;
  milliseconds(name: string, value: number, dimensions?: Record<string, string>): void;
}
