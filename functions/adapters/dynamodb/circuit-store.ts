import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { CircuitState, CircuitStore } from '../../core/ports';

/**
 * The upstreams' circuits in the counters table, one item per upstream (`circuit#<name>`), shared by every
 * worker. Each write is conditional on the revision read (optimistic concurrency), as the rate counters'.
 */
export class DynamoCircuitStore implements CircuitStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async get(name: string): Promise<{ state: CircuitState; version?: string }> {
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
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: { counterId: circuitId(name), ...state, revision: randomUUID() },
          ...(version === undefined
            ? { ConditionExpression: 'attribute_not_exists(counterId)' }
            : {
                ConditionExpression: 'revision = :expected',
                ExpressionAttributeValues: { ':expected': version },
              }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

/** Namespaced: the counters table also holds rate windows (`quota#…`) and Idempotency-Key records. */
export const circuitId = (name: string) => `circuit#${name}`;
