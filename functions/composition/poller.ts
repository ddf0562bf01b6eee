import type { Config } from '../config';
import type { PollDeps } from '../core/stages/poll';
import type { RenditionWorkDeps } from '../core/stages/renditions';
import { stepBudgetMs } from '../core/step-budget';
import { circuitStore, dynamoDocumentClient, taskStore } from './dynamodb';
import { upscaler, watermarker } from './media';
import { logger, metrics } from './observability';
import { upstreamProviders } from './provider';
import { settingsFrom } from './settings';
import { taskQueues } from './sqs';
import { videoStore } from './videos';

/** The poller: asks the provider, stores the videos (watermarked), and makes the 1080p / 4K renditions. */
export function pollerDeps(config: Config): PollDeps & RenditionWorkDeps {
  const settings = settingsFrom(config);
  const dynamo = dynamoDocumentClient(config);
  return {
    tasks: taskStore(config, dynamo),
    queues: taskQueues(config),
    // Most polls find the video still running: the S3 client loads with the first one that stores it.
    videos: videoStore(config, dynamo),
    ...upstreamProviders(config, settings),
    // A pool's circuits: a poll that finds its upstream unavailable counts toward opening its circuit.
    ...(config.UPSTREAMS && { circuits: circuitStore(config, dynamo) }),
    // Each ffmpeg run ends inside the poller's timeout, so its failure path (refund, callback) runs.
    watermarker: watermarker(stepBudgetMs(settings.pollerTimeoutSeconds)),
    upscaler: upscaler(stepBudgetMs(settings.pollerTimeoutSeconds)),
    settings,
    log: logger('poller'),
    metrics: metrics(),
    now: Date.now,
  };
}
