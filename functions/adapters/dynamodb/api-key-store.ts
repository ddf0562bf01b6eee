import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ApiKey, ApiKeyStore } from '../../core/ports';

/** API keys by SHA-256 hash; credits are only ever changed inside task transactions. */
export class DynamoApiKeyStore implements ApiKeyStore {
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
}
