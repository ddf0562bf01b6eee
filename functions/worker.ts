import { loadConfig } from './config';
import { createDeps } from './container';
import { startGeneration } from './core/pipeline';
import { sqsConsumer, taskMessageSchema } from './sqs/consumer';

const deps = createDeps(loadConfig(), 'worker');

/** SQS "generate": submit each task to the provider and schedule its first poll. */
export const handler = sqsConsumer(taskMessageSchema, (message) => startGeneration(deps, message));
