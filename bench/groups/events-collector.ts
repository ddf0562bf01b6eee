import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { TaskEventEnvelope } from '../../functions/core/events';
import type { RecordData } from './common';

/**
 * Reads the local events queue (veo-events, standing in for an EventBridge rule's SQS target) for the
 * whole run, as a subscriber would, and counts each task's events by detail-type.
 */
export function collectEvents(endpoint: string, queueUrl: string) {
  const sqs = new SQSClient({
    endpoint,
    region: process.env.AWS_REGION ?? 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const byTask = new Map<string, Map<string, number>>();
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
        );
        for (const message of Messages) {
          const event = JSON.parse(message.Body ?? '{}') as TaskEventEnvelope;
          const counts = byTask.get(event.detail.taskId) ?? new Map<string, number>();
          counts.set(event['detail-type'], (counts.get(event['detail-type']) ?? 0) + 1);
          byTask.set(event.detail.taskId, counts);
        }
        if (Messages.length > 0) {
          await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
            }),
          );
        }
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  })();
  return {
    byTask,
    /** Reads on for `drainMs` more (late redeliveries), then stops. */
    async stop(drainMs = 3000) {
      await new Promise((resolve) => setTimeout(resolve, drainMs));
      running = false;
      await loop;
      sqs.destroy();
    },
  };
}

const ends = ['Veo Task Failed', 'Veo Task Rejected', 'Veo Task Cancelled'];

/**
 * Events lost and duplicated over ended tasks: each must have had `Veo Task Queued` and its final event
 * (`Veo Task Succeeded`, or `Failed` / `Rejected` / `Cancelled`), and a succeeded one `Veo Task Submitted` too; any copy
 * beyond the first of an event is a duplicate (delivery is at least once, subscribers deduplicate).
 */
export function eventFigures(
  records: Iterable<[string, RecordData | null | undefined]>,
  byTask: Map<string, Map<string, number>>,
): { lost: number; duplicated: number; tasks: number } {
  let lost = 0;
  let duplicated = 0;
  let tasks = 0;
  for (const [taskId, record] of records) {
    if (!record || record.successFlag === 0 || record.successFlag === undefined) continue;
    tasks++;
    const counts = byTask.get(taskId) ?? new Map<string, number>();
    if (!counts.get('Veo Task Queued')) lost++;
    if (record.successFlag === 1) {
      if (!counts.get('Veo Task Submitted')) lost++;
      if (!counts.get('Veo Task Succeeded')) lost++;
    } else if (!ends.some((type) => counts.get(type))) lost++;
    for (const n of counts.values()) duplicated += Math.max(0, n - 1);
  }
  return { lost, duplicated, tasks };
}
