import { pollerDeps } from './composition/poller';
import { loadConfig } from './config';
import { pollMessageSchema } from './core/messages';
import { pollGeneration } from './core/stages/poll';
import { makeRendition } from './core/stages/renditions';
import { sqsConsumer } from './sqs/consumer';

const deps = pollerDeps(loadConfig());

/**
 * SQS "poll" (delayed): ask the provider; when done, stream the video into S3 and complete the task.
 * The same queue carries the 1080p / 4K rendition jobs: the completion path owns the stored videos.
 */
export const handler = sqsConsumer(
  pollMessageSchema,
  ({ rendition, ...message }, log) =>
    rendition
      ? makeRendition({ ...deps, log }, { ...message, rendition })
      : pollGeneration({ ...deps, log }, message),
  deps.log,
);
