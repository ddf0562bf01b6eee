import { loadConfig } from './config';
import { createDeps } from './container';
import { pollGeneration } from './core/pipeline';
import { sqsConsumer, taskMessageSchema } from './sqs/consumer';

const deps = createDeps(loadConfig(), 'poller');

/** SQS "poll" (delayed): ask the provider; when done, stream the video into S3 and complete the task. */
export const handler = sqsConsumer(taskMessageSchema, (message) => pollGeneration(deps, message));
