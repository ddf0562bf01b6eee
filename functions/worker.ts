// First: it sets how every zod schema built after it parses.
import './composition/zod-config';
import { workerDeps } from './composition/worker';
import { loadConfig } from './config';
import { generateMessageSchema } from './core/messages';
import { startGeneration } from './core/stages/generate';
import { sqsConsumer } from './sqs/consumer';

const deps = workerDeps(loadConfig());

/** SQS "generate": submit each task to the provider and schedule its first poll. */
export const handler = sqsConsumer(
  generateMessageSchema,
  (message, log) => startGeneration({ ...deps, log }, message),
  deps.log,
);
