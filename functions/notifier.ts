import { notifierDeps } from './composition/notifier';
import { loadConfig } from './config';
import { notifyMessageSchema } from './core/messages';
import { deliverCallback } from './core/stages/notify';
import { sqsConsumer } from './sqs/consumer';

const deps = notifierDeps(loadConfig());

/**
 * SQS "notify": one signed callback attempt per message. Retries are new messages on this queue, sent by
 * deliverCallback; only our own dependencies' failures come back through SQS redelivery.
 */
export const handler = sqsConsumer(
  notifyMessageSchema,
  (message, log) => deliverCallback({ ...deps, log }, message),
  deps.log,
);
