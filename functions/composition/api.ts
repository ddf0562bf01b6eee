import type { Config } from '../config';
import type { ApiDeps } from '../http/api-routes';
import { apiKeyStore, dynamoDocumentClient, taskStore } from './dynamodb';
import { logger, metrics } from './observability';
import { settingsFrom } from './settings';
import { taskQueues } from './sqs';
import { videoStore } from './videos';

/** The api function: stores, queues and presigning; no provider, no media, no translation. */
export function apiDeps(config: Config, serviceName = 'api'): ApiDeps {
  const dynamo = dynamoDocumentClient(config);
  return {
    tasks: taskStore(config, dynamo),
    apiKeys: apiKeyStore(config, dynamo),
    queues: taskQueues(config),
    // Only URLs (record-info, listing, 1080p), signed without the S3 client: the api never loads it.
    videos: videoStore(config, dynamo),
    settings: settingsFrom(config),
    log: logger(serviceName),
    metrics: metrics(),
    now: Date.now,
  };
}
