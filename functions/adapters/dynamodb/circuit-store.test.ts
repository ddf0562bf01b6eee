import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { type LocalStack, startEmulators } from '../../../local/emulators';
import { circuitStoreContract } from '../../../test/support/circuit-store-contract';
import { DynamoCircuitStore } from './circuit-store';

// Real DynamoDB Local: the circuit's sharing between workers rests on its conditional writes.
let stack: LocalStack;
let client: DynamoDBDocumentClient;
let store: DynamoCircuitStore;

beforeAll(async () => {
  stack = await startEmulators();
  client = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      region: stack.region,
      credentials: stack.credentials,
      endpoint: stack.dynamodbEndpoint,
    }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  store = new DynamoCircuitStore(client, stack.tables.counters);
}, 90_000);

afterAll(async () => {
  client?.destroy();
  await stack?.stop();
});

circuitStoreContract('DynamoCircuitStore', () => store);
