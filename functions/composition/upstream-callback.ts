import type { Config } from '../config';
import type { PushDeps } from '../core/stages/push';
import { dynamoDocumentClient, taskStore } from './dynamodb';
import { logger } from './observability';
import { upstreamProviders } from './provider';
import { settingsFrom } from './settings';
import { taskQueues } from './sqs';

/** The upstream-callback function: verifies a push with the provider and queues a poll; no S3, no metrics. */
export function upstreamCallbackDeps(config: Config): PushDeps {
  return {
    tasks: taskStore(config, dynamoDocumentClient(config)),
    ...upstreamProviders(config, settingsFrom(config)),
    queues: taskQueues(config),
    log: logger('upstream-callback'),
  };
}
