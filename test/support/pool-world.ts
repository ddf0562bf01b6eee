import type { CircuitRule } from '../../functions/core/circuit';
import type { UpstreamSpec } from '../../functions/core/pool';
import type { OperationStatus, UpstreamRequest } from '../../functions/core/ports';
import { ScriptedProvider } from './in-memory-adapters';
import { InMemoryCircuitStore } from './in-memory-circuit-store';
import { type TestWorld, testWorld } from './test-deps';

/** One upstream of a test pool: a ScriptedProvider that can be told to fail its next submits. */
export class PoolUpstream extends ScriptedProvider {
  /** Thrown by the next submits, one each, before they count as submitted. */
  readonly failures: Error[] = [];
  readonly attempts: UpstreamRequest[] = [];
  /** Thrown by the next polls, one each (an outage seen while a generation runs). */
  readonly pollFailures: Error[] = [];
  /** Whether a push is authentic (kie's signature check, in short). */
  pushesValid = true;

  override async submit(request: UpstreamRequest): Promise<string> {
    this.attempts.push(request);
    const failure = this.failures.shift();
    if (failure) throw failure;
    return super.submit(request);
  }

  override async poll(): Promise<OperationStatus> {
    const failure = this.pollFailures.shift();
    if (failure) throw failure;
    return super.poll();
  }

  async verifyPush(): Promise<boolean> {
    return this.pushesValid;
  }
}

export interface PoolWorld extends TestWorld {
  upstreams: Record<string, PoolUpstream>;
  circuits: InMemoryCircuitStore;
}

/**
 * A test world whose worker and poller see a pool: `specs` as UPSTREAMS would give them, one PoolUpstream
 * each, the circuits in memory. The first spec's upstream is also `deps.provider`.
 */
export function poolWorld(
  specs: (Partial<UpstreamSpec> & Pick<UpstreamSpec, 'name'>)[],
  circuit: CircuitRule = { threshold: 3, coolDownMs: 30_000 },
): PoolWorld {
  const upstreams: UpstreamSpec[] = specs.map((spec) => ({
    provider: 'simulator',
    priority: 0,
    serves: ['veo3', 'veo3_fast', 'veo3_lite'],
    ...spec,
  }));
  const world = testWorld({ upstreams, circuit });
  const providers = Object.fromEntries(upstreams.map((u) => [u.name, new PoolUpstream()]));
  const circuits = new InMemoryCircuitStore();
  const first = providers[upstreams[0]?.name ?? ''];
  if (!first) throw new Error('a pool needs an upstream');
  world.deps.provider = first;
  world.deps.upstreamProviders = providers;
  world.deps.circuits = circuits;
  return { ...world, upstreams: providers, circuits };
}
