import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { useDynamoDbLocal } from '../../../test/support/dynamodb-local';
import { taskStoreContract } from '../../../test/support/task-store-contract';
import { DynamoApiKeyStore } from './api-key-store';
import { DynamoTaskStore } from './task-store';

// Real DynamoDB Local: the store's guarantees are its conditional writes and transactions.
const dynamo = useDynamoDbLocal();
let client: DynamoDBDocumentClient | undefined;

taskStoreContract('DynamoTaskStore on DynamoDB Local', () => {
  client ??= dynamo.client();
  return {
    store: new DynamoTaskStore({
      client,
      tasksTable: dynamo.tables.tasks,
      apiKeysTable: dynamo.tables.apiKeys,
      countersTable: dynamo.tables.counters,
    }),
    keys: new DynamoApiKeyStore(client, dynamo.tables.apiKeys),
  };
});
