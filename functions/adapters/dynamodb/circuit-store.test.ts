import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { circuitStoreContract } from '../../../test/support/circuit-store-contract';
import { useDynamoDbLocal } from '../../../test/support/dynamodb-local';
import { DynamoCircuitStore } from './circuit-store';

// Real DynamoDB Local: the circuit's sharing between workers rests on its conditional writes.
const dynamo = useDynamoDbLocal();
let client: DynamoDBDocumentClient;
let store: DynamoCircuitStore;

beforeAll(() => {
  client = dynamo.client();
  store = new DynamoCircuitStore(client, dynamo.tables.counters);
});

circuitStoreContract('DynamoCircuitStore', () => store);

describe('DynamoCircuitStore: the view routing reads', () => {
  it('answers with what this instance last read or wrote while no older than maxAgeMs; writes read fresh', async () => {
    let now = 1_000_000;
    const mine = new DynamoCircuitStore(client, dynamo.tables.counters, () => now);
    const other = new DynamoCircuitStore(client, dynamo.tables.counters);
    const name = `view-${Date.now()}`;
    // Concurrent reads share one (a batch's records route together).
    const [a, b] = [mine.get(name, { maxAgeMs: 1000 }), mine.get(name, { maxAgeMs: 1000 })];
    expect(a).toBe(b);
    expect((await a).state).toEqual({ failures: 0 });

    // Another worker opens it: within the age this instance still routes on what it read...
    expect(await other.put(name, { failures: 3, openedAt: 5 }, undefined)).toBe(true);
    now += 1000;
    expect((await mine.get(name, { maxAgeMs: 1000 })).state).toEqual({ failures: 0 });
    // ...past it, or without an age (a write's read), it reads again.
    now += 1;
    expect((await mine.get(name, { maxAgeMs: 1000 })).state).toEqual({ failures: 3, openedAt: 5 });
    const fresh = await other.get(name);
    expect(await other.put(name, { failures: 0 }, fresh.version)).toBe(true);
    expect((await mine.get(name)).state).toEqual({ failures: 0 });

    // What it writes itself is what it sees next, with the version to write on.
    const read = await mine.get(name);
    expect(await mine.put(name, { failures: 1 }, read.version)).toBe(true);
    const seen = await mine.get(name, { maxAgeMs: 1000 });
    expect(seen.state).toEqual({ failures: 1 });
    expect(await mine.put(name, { failures: 2 }, seen.version)).toBe(true);
  });
});
