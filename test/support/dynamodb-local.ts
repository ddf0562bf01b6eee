import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { type LocalStack, startEmulators } from '../../local/emulators';

/**
 * DynamoDB Local (with fauxqs) for one test file, started before its tests and stopped after: the stores'
 * guarantees are conditional writes and transactions, which a fake would not test. `client()` is a document
 * client of its own, as each Lambda instance has, built as functions/composition/dynamodb.ts builds it;
 * `configure` may add to the raw client's middleware first.
 */
export function useDynamoDbLocal() {
  let stack: LocalStack | undefined;
  const clients: DynamoDBDocumentClient[] = [];
  beforeAll(async () => {
    stack = await startEmulators();
  }, 90_000);
  afterAll(async () => {
    for (const client of clients) client.destroy();
    await stack?.stop();
  });
  const started = () => {
    if (!stack) throw new Error('DynamoDB Local is started in beforeAll: use it inside a test or a hook');
    return stack;
  };
  return {
    get tables(): LocalStack['tables'] {
      return started().tables;
    },
    client(configure?: (raw: DynamoDBClient) => void): DynamoDBDocumentClient {
      const { region, credentials, dynamodbEndpoint } = started();
      const raw = new DynamoDBClient({ region, credentials, endpoint: dynamodbEndpoint });
      configure?.(raw);
      const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
      clients.push(client);
      return client;
    },
  };
}
