import { loadConfig } from './config';
import { createDeps } from './container';
import { deliverCallback } from './core/callbacks';
import { sqsConsumer, taskMessageSchema } from './sqs/consumer';

const deps = createDeps(loadConfig(), 'notifier');

/** SQS "notify": POST the signed callback to the client; failures come back through the queue. */
export const handler = sqsConsumer(taskMessageSchema, (message) => deliverCallback(deps, message));
