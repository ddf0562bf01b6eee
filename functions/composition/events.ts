import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { CoalescingEventPublisher } from '../adapters/events/coalescing-event-publisher';
import { EventBridgeEventPublisher } from '../adapters/events/eventbridge-event-publisher';
import { noEvents, SqsEventPublisher } from '../adapters/events/sqs-event-publisher';
import type { Config } from '../config';
import type { EventPublisher } from '../core/ports';
import { clientOptions } from './aws-clients';

/** Task events: the local stack's SQS stand-in, EventBridge's bus, or none when the bus is `off`. */
export function eventPublisher(config: Config): EventPublisher {
  // The events of one notifier invocation's records go out together (CoalescingEventPublisher).
  if (config.EVENTS_QUEUE_URL) {
    return new CoalescingEventPublisher(
      new SqsEventPublisher(new SQSClient(clientOptions(config.SQS_ENDPOINT)), config.EVENTS_QUEUE_URL),
    );
  }
  if (config.EVENT_BUS_NAME === 'off') return noEvents;
  return new CoalescingEventPublisher(
    new EventBridgeEventPublisher(new EventBridgeClient(clientOptions(undefined)), config.EVENT_BUS_NAME),
  );
}
