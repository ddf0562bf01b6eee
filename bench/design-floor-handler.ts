import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { floorHandler } from './floor-work';

/**
 * The design's floor: only the libraries the project's design fixes for every function (a DynamoDB
 * document client, an SQS client, zod with one schema), without Powertools and without any code of ours,
 * bundled like the handlers. `init.floor.design.median` against the baseline is the least a function that
 * reads a task, writes it and sends a message can start in, whatever else it does.
 */
export const handler = floorHandler(DynamoDBDocumentClient.from(new DynamoDBClient({})), new SQSClient({}));
