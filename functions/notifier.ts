import { loadConfig } from './config';
import { createDeps } from './container';
import { deliverCallback } from './core/callbacks';
import { notifyMessageSchema } from './core/messages';
import { sqsConsumer } from './sqs/consumer';

const deps = createDeps(loadConfig(), 'notifier');

/**
 * SQS "notify": one signed callback attempt per message. Retries are new messages on this queue, sent by
 * deliverCallback; only our own dependencies' failures come back through SQS redelivery.
 */
export const handler = sqsConsumer(notifyMessageSchema, (message) => deliverCallback(deps, message));
