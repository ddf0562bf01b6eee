import { describe, expect, it } from 'vitest';
import { InMemoryCircuitStore } from '../../test/support/in-memory-circuit-store';
import {
  admits,
  afterFailure,
  afterSuccess,
  circuitPhase,
  closedCircuit,
  takeProbe,
  updateCircuit,
} from './circuit';

const rule = { threshold: 3, coolDownMs: 30_000 };

describe('an upstream circuit, on a fake clock', () => {
  it('opens at the threshold of failures in a row, not before', () => {
    let state = closedCircuit;
    state = afterFailure(state, 1_000, rule);
    state = afterFailure(state, 2_000, rule);
    expect(circuitPhase(state, 2_000, rule)).toBe('closed');
    expect(admits(state, 2_000, rule)).toBe(true);
    state = afterFailure(state, 3_000, rule);
    expect(state).toEqual({ failures: 3, openedAt: 3_000 });
    expect(circuitPhase(state, 3_000 + 29_999, rule)).toBe('open');
    expect(admits(state, 3_000 + 29_999, rule)).toBe(false);
  });

  it('a success in between resets the count', () => {
    let state = afterFailure(afterFailure(closedCircuit, 0, rule), 0, rule);
    state = afterSuccess();
    state = afterFailure(state, 0, rule);
    expect(circuitPhase(state, 0, rule)).toBe('closed');
  });

  it('lets one probe through after the cool-down; its success closes, its failure reopens', () => {
    const open = { failures: 3, openedAt: 0 };
    expect(takeProbe(open, 10_000, rule)).toBeUndefined();
    const probing = takeProbe(open, 30_000, rule);
    expect(probing).toEqual({ failures: 3, openedAt: 0, probeAt: 30_000 });
    if (!probing) throw new Error('no probe');
    // The probe is taken: nobody else goes until it answers (or a cool-down passes without an answer).
    expect(admits(probing, 31_000, rule)).toBe(false);
    expect(takeProbe(probing, 31_000, rule)).toBeUndefined();
    expect(admits(probing, 60_000, rule)).toBe(true);
    expect(afterFailure(probing, 32_000, rule)).toEqual({ failures: 4, openedAt: 32_000 });
    expect(circuitPhase(afterSuccess(), 32_000, rule)).toBe('closed');
  });

  it('updateCircuit retries on a lost race and leaves the store alone when nothing changes', async () => {
    const store = new InMemoryCircuitStore();
    let raced = false;
    const next = await updateCircuit(store, 'kie-a', (state) => {
      if (!raced) {
        raced = true;
        // Another worker writes between this read and this write.
        void store.put('kie-a', { failures: 5 }, undefined);
      }
      return afterFailure(state, 0, rule);
    });
    expect(next).toEqual({ failures: 6, openedAt: 0 });
    expect((await store.get('kie-a')).state).toEqual({ failures: 6, openedAt: 0 });
    expect(await updateCircuit(store, 'kie-b', () => undefined)).toBeUndefined();
    expect(store.circuits.has('kie-b')).toBe(false);
  });
});
