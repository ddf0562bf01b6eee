// First: it settles what libraries read as they load (zod’s JIT).
import './composition/preload';
import { workerDeps } from './composition/worker';
import { loadConfig } from './config';
import { generateMessageSchema } from './core/messages';
import { startGeneration } from './core/stages/generate';
import { carryingChange, publishingAtOnce } from './core/task/move';
import { sqsConsumer } from './sqs/consumer';

const deps = workerDeps(loadConfig());

/** SQS "generate": submit each task to the provider and schedule its first poll. */
export const handler = sqsConsumer(
  generateMessageSchema,
  // The submit's `queued` change rides along with the task's first change, both published at once, and its
  // copy of the task stands in for the first read on a first delivery (core/task/move.ts).
  (message, log, { redelivered }) =>
    carryingChange(publishingAtOnce({ ...deps, log }), message.change, (d) => startGeneration(d, message), {
      firstDelivery: !redelivered,
    }),
  deps.log,
);
