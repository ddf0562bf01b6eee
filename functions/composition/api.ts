import type { Config } from '../config';
import type { ApiDeps } from '../http/api-routes';
import { apiKeyStore, dynamoDocumentClient, quotaGate, taskStore } from './dynamodb';
import { logger, metrics } from './observability';
import { videoStore } from './s3';
import { settingsFrom } from './settings';
import { taskQueues } from './sqs';

/** The api function: stores, queues and presigning; no provider, no media, no translation. */
export function apiDeps(config: Config, serviceName = 'api'): ApiDeps {
  const dynamo = dynamoDocumentClient(config);
  return {
    tasks: taskStore(config, dynamo),
    apiKeys: apiKeyStore(config, dynamo),
    quota: quotaGate(config, dynamo),
    queues: taskQueues(config),
    videos: videoStore(config),
    settings: settingsFrom(config),
    log: logger(serviceName),
    metrics: metrics(),
    now: Date.now,
  };
}
