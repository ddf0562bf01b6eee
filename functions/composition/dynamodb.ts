import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoApiKeyStore } from '../adapters/dynamodb/api-key-store';
import { DynamoQuotaGate, type QuotaLimit } from '../adapters/dynamodb/quota-gate';
import { DynamoTaskStore } from '../adapters/dynamodb/task-store';
import type { Config } from '../config';
import type { QuotaGate, TaskStore } from '../core/ports';
import { clientOptions, instrumented } from './aws-clients';

/** One document client per function instance, shared by its stores. */
export function dynamoDocumentClient(config: Config): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(
    instrumented(new DynamoDBClient(clientOptions(config.DYNAMODB_ENDPOINT))),
    {
      marshallOptions: { removeUndefinedValues: true },
    },
  );
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
  const quota = quotaFor(config);
  return new DynamoQuotaGate({
    client,
    table: config.COUNTERS_TABLE,
    limits: quota ? { [config.PROVIDER]: quota } : {},
  });
}

/** The upstreams' published submit quotas; QUOTA_LIMIT / QUOTA_WINDOW_SECONDS override them. */
const publishedQuotas: Partial<Record<Config['PROVIDER'], QuotaLimit>> = {
  kie: { limit: 20, windowMs: 10_000 }, // kie.ai: 20 new requests per 10 s per account
  vertex: { limit: 50, windowMs: 60_000 }, // Veo 3.1 GA on Vertex AI, per project and region
  gemini: { limit: 10, windowMs: 60_000 }, // Veo preview models on the Gemini API; tier-dependent
};

function quotaFor(config: Config): QuotaLimit | undefined {
  const published = publishedQuotas[config.PROVIDER];
  const limit = config.QUOTA_LIMIT ?? published?.limit;
  if (limit === undefined) return undefined;
  const windowMs = config.QUOTA_WINDOW_SECONDS
    ? config.QUOTA_WINDOW_SECONDS * 1000
    : (published?.windowMs ?? 60_000);
  return { limit, windowMs };
}
