import type { Config } from '../config';
import { ApiKeyCache, cachedApiKeys } from '../core/api-keys';
import type { NotifyDeps } from '../core/stages/notify';
import { apiKeyStore, dynamoDocumentClient, taskStore } from './dynamodb';
import { eventPublisher } from './events';
import { callbackSender } from './http';
import { lazyTaskTokens } from './lazy';
import { logger, metrics } from './observability';
import { settingsFrom } from './settings';
import { taskQueues } from './sqs';
import { videoStore } from './videos';

/** The notifier: publishes task events, answers Step Functions tokens, signs and sends callbacks. */
export function notifierDeps(config: Config): NotifyDeps {
  const dynamo = dynamoDocumentClient(config);
  const settings = settingsFrom(config);
  return {
    tasks: taskStore(config, dynamo),
    // Read for the webhook secret only: a warm notifier keeps each key as long as the API trusts one.
    apiKeys: cachedApiKeys(apiKeyStore(config, dynamo), new ApiKeyCache(settings.apiKeyCacheSeconds * 1000)),
    queues: taskQueues(config),
    // Signs the callbacks' and events' result URLs, without loading the S3 client.
    videos: videoStore(config, dynamo),
    callbacks: callbackSender(settings),
    events: eventPublisher(config),
    // Only a task a state machine started carries a token: most invocations never load the SFN client.
    taskTokens: lazyTaskTokens(async () => (await import('./task-tokens')).taskTokens(config)),
    settings,
    log: logger('notifier'),
    metrics: metrics(),
    now: Date.now,
  };
}
