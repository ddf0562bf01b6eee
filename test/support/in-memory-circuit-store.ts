import type { CircuitState, CircuitStore } from '../../functions/core/ports';

/** The circuits in a map, with the same conditional writes as DynamoCircuitStore (a version per write). */
export class InMemoryCircuitStore implements CircuitStore {
  readonly circuits = new Map<string, { state: CircuitState; version: string }>();
  private writes = 0;

  /** Always fresh (a view no older than any `maxAgeMs`). */
  async get(
    name: string,
    _options?: { maxAgeMs?: number },
  ): Promise<{ state: CircuitState; version?: string }> {
    const stored = this.circuits.get(name);
    return stored ? { state: { ...stored.state }, version: stored.version } : { state: { failures: 0 } };
  }

  async put(name: string, state: CircuitState, version: string | undefined): Promise<boolean> {
    if (this.circuits.get(name)?.version !== version) return false;
    this.circuits.set(name, { state: { ...state }, version: `v${++this.writes}` });
    return true;
  }
}
