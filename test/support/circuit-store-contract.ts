import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { afterFailure, circuitPhase, takeProbe, updateCircuit } from '../../functions/core/circuit';
import type { CircuitStore } from '../../functions/core/ports';

const rule = { threshold: 2, coolDownMs: 1000 };

/** What every CircuitStore must do, run against the in-memory one and DynamoDB Local alike. */
export function circuitStoreContract(name: string, store: () => CircuitStore): void {
  describe(`${name} (CircuitStore contract)`, () => {
    const upstream = () => `up-${randomUUID().slice(0, 8)}`;

    it('answers a closed circuit without a version for an upstream never written', async () => {
      expect(await store().get(upstream())).toEqual({ state: { failures: 0 } });
    });

    it('writes only on the version read, so a stale writer loses', async () => {
      const name = upstream();
      expect(await store().put(name, { failures: 1 }, undefined)).toBe(true);
      const read = await store().get(name);
      expect(read.state).toEqual({ failures: 1 });
      expect(await store().put(name, { failures: 2 }, undefined)).toBe(false);
      expect(await store().put(name, { failures: 2 }, read.version)).toBe(true);
      expect(await store().put(name, { failures: 9 }, read.version)).toBe(false);
      expect((await store().get(name)).state).toEqual({ failures: 2 });
    });

    it('keeps the open and probe times, and counts concurrent failures without losing one', async () => {
      const name = upstream();
      await Promise.all(
        [1, 2, 3, 4].map(() => updateCircuit(store(), name, (state) => afterFailure(state, 5_000, rule))),
      );
      const { state } = await store().get(name);
      expect(state.failures).toBe(4);
      expect(state.openedAt).toBe(5_000);
      expect(circuitPhase(state, 5_500, rule)).toBe('open');
      // Two workers race for the one probe once the cool-down passed: exactly one gets it.
      const probes = await Promise.all(
        [1, 2].map(() => updateCircuit(store(), name, (s) => takeProbe(s, 6_000, rule))),
      );
      expect(probes.filter((p) => p !== undefined)).toHaveLength(1);
      expect((await store().get(name)).state.probeAt).toBe(6_000);
    });
  });
}
