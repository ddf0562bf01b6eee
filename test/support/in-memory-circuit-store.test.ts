import { circuitStoreContract } from './circuit-store-contract';
import { InMemoryCircuitStore } from './in-memory-circuit-store';

const store = new InMemoryCircuitStore();
circuitStoreContract('InMemoryCircuitStore', () => store);
