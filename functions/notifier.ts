// First: it settles what libraries read as they load (zod’s JIT).
import './composition/preload';
import { notifierDeps } from './composition/notifier';
import { loadConfig } from './config';
import { notifyMessageSchema } from './core/messages';
import { notify } from './core/stages/notify';
import { sqsConsumer } from './sqs/consumer';

const deps = notifierDeps(loadConfig());

/**
 * SQS "notify": per message, a task change's event (and Step Functions answer) and one signed callback
 * attempt. Callback retries are new messages on this queue, sent by deliverCallback; our own
 * dependencies' failures (EventBridge's included) come back through SQS redelivery, then the DLQ.
 */
export const handler = sqsConsumer(
  notifyMessageSchema,
  (message, log, delivery) => notify({ ...deps, log }, message, delivery),
  deps.log,
);
