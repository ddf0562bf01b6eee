import { workerDeps } from './composition/worker';
import { loadConfig } from './config';
import { generateMessageSchema } from './core/messages';
import { startGeneration } from './core/stages/generate';
import { carryingChange } from './core/task/move';
import { sqsConsumer } from './sqs/consumer';

const deps = workerDeps(loadConfig());

/** SQS "generate": submit each task to the provider and schedule its first poll. */
export const handler = sqsConsumer(
  generateMessageSchema,
  // The submit's `queued` change rides along with the task's first change (core/task/move.ts).
  (message, log) => carryingChange({ ...deps, log }, message.change, (d) => startGeneration(d, message)),
  deps.log,
);
