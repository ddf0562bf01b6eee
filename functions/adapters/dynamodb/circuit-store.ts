import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { CircuitState, CircuitStore } from '../../core/ports';

/**
 * The upstreams' circuits in the counters table, one item per upstream (`circuit#<name>`), shared by every
 * worker. Each write is conditional on the revision read (optimistic concurrency), as the rate counters'.
 */
export class DynamoCircuitStore implements CircuitStore {
  /** Each circuit as this instance last read (or is reading) or wrote it, and when. */
  private readonly seen = new Map<string, { at: number; read: Promise<StoredCircuit> }>();

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly now: () => number = Date.now,
  ) {}

  get(name: string, options: { maxAgeMs?: number } = {}): Promise<StoredCircuit> {
    const last = this.seen.get(name);
    if (last && options.maxAgeMs !== undefined && this.now() - last.at <= options.maxAgeMs) return last.read;
    // Concurrent routings share one read: a batch's records route together.
    const read = this.read(name);
    this.seen.set(name, { at: this.now(), read });
    read.catch(() => {
      if (this.seen.get(name)?.read === read) this.seen.delete(name);
    });
    return read;
  }

  private async read(name: string): Promise<StoredCircuit> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { counterId: circuitId(name) }, ConsistentRead: true }),
    );
    if (!Item) return { state: { failures: 0 } };
    const state: CircuitState = { failures: typeof Item.failures === 'number' ? Item.failures : 0 };
    if (typeof Item.openedAt === 'number') state.openedAt = Item.openedAt;
    if (typeof Item.probeAt === 'number') state.probeAt = Item.probeAt;
    return { state, version: typeof Item.revision === 'string' ? Item.revision : undefined };
  }

  async put(name: string, state: CircuitState, version: string | undefined): Promise<boolean> {
    const revision = randomUUID();
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: { counterId: circuitId(name), ...state, revision },
          ...(version === undefined
            ? { ConditionExpression: 'attribute_not_exists(counterId)' }
            : {
                ConditionExpression: 'revision = :expected',
                ExpressionAttributeValues: { ':expected': version },
              }),
        }),
      );
      this.seen.set(name, {
        at: this.now(),
        read: Promise.resolve({ state: { ...state }, version: revision }),
      });
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

type StoredCircuit = { state: CircuitState; version?: string };

/** Namespaced: the counters table also holds rate windows (`quota#…`) and Idempotency-Key records. */
export const circuitId = (name: string) => `circuit#${name}`;
