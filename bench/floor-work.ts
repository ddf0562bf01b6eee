import type { SQSClient } from '@aws-sdk/client-sqs';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { type DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';

/**
 * What every function of ours does at the least, for the init floors (bench/floor-handler.ts,
 * bench/design-floor-handler.ts): parse a message with zod, read a task, write one transaction, send one
 * message. The schema is built at import, as ours are; `after` is the floor's own extra work.
 */
export function floorHandler(
  dynamo: DynamoDBDocumentClient,
  sqs: SQSClient,
  after?: (taskId: string) => void,
): (event: unknown) => Promise<void> {
  const message = z.object({ taskId: z.string().min(1) });
  return async (event) => {
    const { taskId } = message.parse(event);
    await dynamo.send(new GetCommand({ TableName: 'tasks', Key: { taskId } }));
    await dynamo.send(new TransactWriteCommand({ TransactItems: [] }));
    await sqs.send(new SendMessageCommand({ QueueUrl: 'queue', MessageBody: taskId }));
    after?.(taskId);
  };
}
