/**
 * An upstream's circuit breaker (issue 16), pure: consecutive unavailability opens it, a cool-down later
 * one request (the probe) is let through, its success closes the circuit and its failure opens it again.
 * The state lives in the CircuitStore (shared by every worker); `updateCircuit` changes it safely.
 */
import type { CircuitState, CircuitStore } from './ports/circuit-store';

export type { CircuitState } from './ports/circuit-store';

export interface CircuitRule {
  /** Consecutive failures that open the circuit. */
  threshold: number;
  /** How long an open circuit sends nothing before one probe is let through. */
  coolDownMs: number;
}

export const defaultCircuitRule: CircuitRule = { threshold: 3, coolDownMs: 30_000 };

export const closedCircuit: CircuitState = { failures: 0 };

export type CircuitPhase = 'closed' | 'open' | 'half-open';

export function circuitPhase(state: CircuitState, now: number, rule: CircuitRule): CircuitPhase {
  if (state.openedAt === undefined) return 'closed';
  return now - state.openedAt < rule.coolDownMs ? 'open' : 'half-open';
}

/**
 * Whether new work may go to the upstream now: closed, or half-open with the probe free (none taken, or
 * the one taken a cool-down ago never answered: its worker died).
 */
export function admits(state: CircuitState, now: number, rule: CircuitRule): boolean {
  const phase = circuitPhase(state, now, rule);
  if (phase === 'closed') return true;
  if (phase === 'open') return false;
  return state.probeAt === undefined || now - state.probeAt >= rule.coolDownMs;
}

/** The state after taking the probe, or undefined when it is not free (someone else has it). */
export function takeProbe(state: CircuitState, now: number, rule: CircuitRule): CircuitState | undefined {
  if (circuitPhase(state, now, rule) !== 'half-open' || !admits(state, now, rule)) return undefined;
  return { ...state, probeAt: now };
}

/** After an unavailability answer: one more in a row; at the threshold, or a failed probe, (re)opens. */
export function afterFailure(state: CircuitState, now: number, rule: CircuitRule): CircuitState {
  const failures = state.failures + 1;
  const probing = circuitPhase(state, now, rule) === 'half-open';
  if (probing || (state.openedAt === undefined && failures >= rule.threshold))
    return { failures, openedAt: now };
  return { ...state, failures };
}

/** After any answer that shows the upstream is up (an accepted submit, a refusal of the request itself). */
export function afterSuccess(): CircuitState {
  return closedCircuit;
}

/**
 * Changes the stored circuit of `name` with `change` (undefined: leave it), written conditionally on the
 * version read, so concurrent workers never overwrite each other's counts. Returns what was written, or
 * undefined when `change` declined or the write kept losing races.
 */
export async function updateCircuit(
  store: CircuitStore,
  name: string,
  change: (state: CircuitState) => CircuitState | undefined,
): Promise<CircuitState | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const { state, version } = await store.get(name);
    const next = change(state);
    if (!next) return undefined;
    if (sameState(state, next)) return next;
    if (await store.put(name, next, version)) return next;
  }
  return undefined;
}

function sameState(a: CircuitState, b: CircuitState): boolean {
  return a.failures === b.failures && a.openedAt === b.openedAt && a.probeAt === b.probeAt;
}
