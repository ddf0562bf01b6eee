import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoApiKeyStore } from '../adapters/dynamodb/api-key-store';
import { DynamoCircuitStore } from '../adapters/dynamodb/circuit-store';
import { DynamoTaskStore } from '../adapters/dynamodb/task-store';
import type { Config } from '../config';
import type { TaskStore } from '../core/ports';
import { clientOptions, traced } from './aws-clients';

/** One document client per function instance, shared by its stores. */
export function dynamoDocumentClient(config: Config): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(traced(new DynamoDBClient(clientOptions(config.DYNAMODB_ENDPOINT))), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

export function taskStore(config: Config, client: DynamoDBDocumentClient): TaskStore {
  return new DynamoTaskStore({
    client,
    tasksTable: config.TASKS_TABLE,
    apiKeysTable: config.API_KEYS_TABLE,
    countersTable: config.COUNTERS_TABLE,
  });
}

export function apiKeyStore(config: Config, client: DynamoDBDocumentClient): DynamoApiKeyStore {
  return new DynamoApiKeyStore(client, config.API_KEYS_TABLE);
}

/** The upstreams' circuits, in the counters table (shared by every worker). */
export function circuitStore(config: Config, client: DynamoDBDocumentClient): DynamoCircuitStore {
  return new DynamoCircuitStore(client, config.COUNTERS_TABLE);
}
