import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';

/**
 * The design's floor: only the libraries the project's design fixes for every function (a DynamoDB
 * document client, an SQS client, zod with one schema), without Powertools and without any code of ours,
 * bundled like the handlers. `init.floor.design.median` against the baseline is the least a function that
 * reads a task, writes it and sends a message can start in, whatever else it does.
 */
const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const sqs = new SQSClient({});
const message = z.object({ taskId: z.string().min(1) });

export const handler = async (event: unknown): Promise<void> => {
  const { taskId } = message.parse(event);
  await dynamo.send(new GetCommand({ TableName: 'tasks', Key: { taskId } }));
  await dynamo.send(new TransactWriteCommand({ TransactItems: [] }));
  await sqs.send(new SendMessageCommand({ QueueUrl: 'queue', MessageBody: taskId }));
};
