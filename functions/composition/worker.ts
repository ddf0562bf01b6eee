import type { Config } from '../config';
import type { DepsFor } from '../core/deps';
import type { GenerateDeps } from '../core/stages/generate';
import { circuitStore, dynamoDocumentClient, taskStore } from './dynamodb';
import { imageFetcher } from './http';
import { imageCropper } from './images';
import { lazyEventPublisher, lazyTranslator } from './lazy';
import { logger, metrics } from './observability';
import { upstreamProviders } from './provider';
import { settingsFrom } from './settings';
import { taskQueues } from './sqs';
import { videoStore } from './videos';

/** The worker: prepares the upstream request (images, crop, translation) and submits it within the quota. */
export function workerDeps(config: Config): GenerateDeps & DepsFor<'events'> {
  const dynamo = dynamoDocumentClient(config);
  const settings = settingsFrom(config);
  return {
    tasks: taskStore(config, dynamo),
    queues: taskQueues(config),
    // A task's queued and submitted events, published at once (core/task/move.ts publishingAtOnce).
    events: lazyEventPublisher(async () => (await import('./events')).eventPublisher(config)),
    // S3 only to read the video an extension continues.
    videos: videoStore(config, dynamo),
    ...upstreamProviders(config, settings),
    // Circuits only for a pool: with one upstream there is nowhere else to send work, so it keeps its backoff.
    ...(config.UPSTREAMS && { circuits: circuitStore(config, dynamo) }),
    images: imageFetcher(config, settings),
    cropper: imageCropper(),
    translator: lazyTranslator(async () => (await import('./translator')).translator(config)),
    settings,
    log: logger('worker'),
    metrics: metrics(),
    now: Date.now,
  };
}
