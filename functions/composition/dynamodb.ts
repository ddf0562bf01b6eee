import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoApiKeyStore } from '../adapters/dynamodb/api-key-store';
import { DynamoQuotaGate } from '../adapters/dynamodb/quota-gate';
import { DynamoTaskStore } from '../adapters/dynamodb/task-store';
import type { Config } from '../config';
import type { QuotaGate, TaskStore } from '../core/ports';
import { clientOptions } from './aws-clients';
import { upstreamQuota } from './settings';

/** One document client per function instance, shared by its stores. */
export function dynamoDocumentClient(config: Config): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(clientOptions(config.DYNAMODB_ENDPOINT)), {
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

/** The counters table: the upstream's submit quota (worker) and the per-key rate limits (api). */
export function quotaGate(config: Config, client: DynamoDBDocumentClient): QuotaGate {
  const quota = upstreamQuota(config);
  return new DynamoQuotaGate({
    client,
    table: config.COUNTERS_TABLE,
    limits: quota ? { [config.PROVIDER]: quota } : {},
  });
}
