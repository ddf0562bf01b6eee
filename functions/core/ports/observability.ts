/** A structured logger (Powertools' Logger satisfies it). */
export interface Log {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
  /** Adds keys to every later entry of this logger (the API's use cases add the `taskId` they act on). */
  appendKeys(keys: Record<string, unknown>): void;
  /**
   * A logger with this one's keys and Lambda context whose own keys go no further: one per SQS record
   * (with its `taskId`) and one per API request, so records handled in parallel never mix their keys and
   * no log call passes `taskId` itself.
   */
  createChild(): Log;
}

/**
 * Business metrics (Powertools' EMF in Lambda). Dimensions stay low-cardinality (model, provider);
 * anything per key or per task goes into `metadata`, which is searchable in the logs but not a dimension.
 */
export interface Metrics {
  count(name: string, dimensions?: Record<string, string>, metadata?: Record<string, string>): void;
  milliseconds(name: string, value: number, dimensions?: Record<string, string>): void;
}
