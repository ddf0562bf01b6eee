import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { InsufficientCreditsError } from '../../core/errors';
import type { ApiKey, ApiKeyAdmin } from '../../core/ports';

/**
 * API keys by SHA-256 hash. Credits change inside task transactions (charge, refund) and through
 * the keys tool's atomic `addCredits`; every other write here is the operator's.
 */
export class DynamoApiKeyStore implements ApiKeyAdmin {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async get(keyHash: string): Promise<ApiKey | undefined> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { keyHash }, ConsistentRead: true }),
    );
    return out.Item as ApiKey | undefined;
  }

  async put(key: ApiKey): Promise<void> {
    await this.client.send(new PutCommand({ TableName: this.table, Item: key }));
  }

  async list(): Promise<ApiKey[]> {
    const keys: ApiKey[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({ TableName: this.table, ConsistentRead: true, ExclusiveStartKey: start }),
      );
      keys.push(...((page.Items ?? []) as ApiKey[]));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return keys;
  }

  async addCredits(keyHash: string, delta: number): Promise<number | undefined> {
    // One conditional ADD: concurrent top-ups and charges never lose an update, and a withdrawal
    // only applies while the balance covers it.
    const taking = delta < 0;
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { keyHash },
          UpdateExpression: 'ADD credits :delta',
          ConditionExpression: taking
            ? 'attribute_exists(keyHash) AND credits >= :needed'
            : 'attribute_exists(keyHash)',
          ExpressionAttributeValues: taking ? { ':delta': delta, ':needed': -delta } : { ':delta': delta },
          ReturnValues: 'UPDATED_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return Number(out.Attributes?.credits);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      if (error.Item === undefined) return undefined;
      throw new InsufficientCreditsError(Number(error.Item.credits?.N ?? 0));
    }
  }

  async revoke(keyHash: string, at: number): Promise<boolean> {
    return this.updateExisting({
      Key: { keyHash },
      UpdateExpression: 'SET revoked = :true, revokedAt = if_not_exists(revokedAt, :at)',
      ExpressionAttributeValues: { ':true': true, ':at': at },
    });
  }

  async setWebhookSecret(keyHash: string, secret: string): Promise<boolean> {
    return this.updateExisting({
      Key: { keyHash },
      UpdateExpression: 'SET webhookSecret = :secret',
      ExpressionAttributeValues: { ':secret': secret },
    });
  }

  /** An update that never creates a key: false when there is none. */
  private async updateExisting(update: Omit<UpdateCommandInput, 'TableName'>): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          ...update,
          TableName: this.table,
          ConditionExpression: 'attribute_exists(keyHash)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
