// First: it settles what libraries read as they load (zod’s JIT).
import './composition/preload';
import type { Context, SQSEvent } from 'aws-lambda';
import { pollerDeps } from './composition/poller';
import { loadConfig } from './config';
import { pollMessageSchema } from './core/messages';
import { pollGeneration } from './core/stages/poll';
import { makeRendition } from './core/stages/renditions';
import { STEP_RESERVE_SECONDS, stepBudgetMs } from './core/step-budget';
import { sqsConsumer } from './sqs/consumer';

const deps = pollerDeps(loadConfig());
/** A rendition starts only with its ffmpeg budget and half the reserve (download, upload) still ahead. */
const renditionNeedsMs = stepBudgetMs(deps.settings.pollerTimeoutSeconds) + (STEP_RESERVE_SECONDS * 1000) / 2;

/** When this invocation's timeout falls (Lambda's clock, read at its start). */
let invocationEndsAt = Number.POSITIVE_INFINITY;
/**
 * Rendition jobs run one at a time per invocation: one 4K upscale peaks at 608 MB (measured) in the 2048 MB
 * poller, so the ten records of a batch can never stack ten upscales; polls stay parallel.
 */
let renditions: Promise<unknown> = Promise.resolve();

/**
 * SQS "poll" (delayed): ask the provider; when done, stream the video into S3 and complete the task.
 * The same queue carries the 1080p / 4K rendition jobs: the completion path owns the stored videos.
 */
const consumer = sqsConsumer(
  pollMessageSchema,
  ({ rendition, ...message }, log, delivery) => {
    if (!rendition) return pollGeneration({ ...deps, log }, message, delivery);
    const run = renditions.then(async () => {
      // Too little of this invocation left for a whole rendition: hand it to a fresh one rather than be
      // killed mid-run (the job is still processing, so the new message carries on with it).
      if (invocationEndsAt - Date.now() < renditionNeedsMs) {
        await deps.queues.poll({ taskId: message.taskId, rendition }, 0);
        return;
      }
      await makeRendition({ ...deps, log }, { ...message, rendition });
    });
    renditions = run.catch(() => {});
    return run;
  },
  deps.log,
);

export function handler(event: SQSEvent, context: Context) {
  invocationEndsAt = Date.now() + context.getRemainingTimeInMillis();
  return consumer(event, context);
}
