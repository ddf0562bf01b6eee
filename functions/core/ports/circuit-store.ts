/**
 * Where the upstreams' circuits live (core/circuit.ts), shared by every worker: DynamoDB's counters
 * table when deployed, memory in unit tests. `version` makes each write conditional on the state read.
 */
export interface CircuitStore {
  /**
   * The circuit of the upstream named `name`; a closed one (no version) when none was written yet. With
   * `maxAgeMs`, what this instance last read or wrote of it may answer if no older than that (routing, which
   * reads every candidate's per task: a circuit's change reaches it that much later); writes read fresh.
   */
  get(name: string, options?: { maxAgeMs?: number }): Promise<{ state: CircuitState; version?: string }>;
  /** Writes `state` if the stored version is still `version` (undefined: nothing stored); false otherwise. */
  put(name: string, state: CircuitState, version: string | undefined): Promise<boolean>;
}

/** One upstream's circuit as stored (see core/circuit.ts for what the fields mean to it). */
export interface CircuitState {
  /** Unavailability answers in a row (reset by any success). */
  failures: number;
  /** Epoch ms the circuit last opened; absent while closed. */
  openedAt?: number;
  /** Epoch ms a worker took the half-open probe; another may take it once a cool-down passed since. */
  probeAt?: number;
}
