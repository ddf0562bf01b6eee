import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { type LocalStack, startEmulators } from '../../../local/emulators';
import { taskStoreContract } from '../../../test/support/task-store-contract';
import { DynamoApiKeyStore } from './api-key-store';
import { DynamoTaskStore } from './task-store';

// Real DynamoDB Local: the store's guarantees are its conditional writes and transactions.
let stack: LocalStack;
let client: DynamoDBDocumentClient;

beforeAll(async () => {
  stack = await startEmulators();
  client = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      region: stack.region,
      credentials: stack.credentials,
      endpoint: stack.dynamodbEndpoint,
    }),
    // As the composition builds it (functions/composition/dynamodb.ts).
    { marshallOptions: { removeUndefinedValues: true } },
  );
}, 90_000);

afterAll(async () => {
  client?.destroy();
  await stack?.stop();
});

taskStoreContract('DynamoTaskStore on DynamoDB Local', () => ({
  store: new DynamoTaskStore({
    client,
    tasksTable: stack.tables.tasks,
    apiKeysTable: stack.tables.apiKeys,
    countersTable: stack.tables.counters,
  }),
  keys: new DynamoApiKeyStore(client, stack.tables.apiKeys),
}));
