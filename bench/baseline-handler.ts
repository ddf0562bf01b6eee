import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * The init baseline: the least a function of ours could do at cold start, create a DynamoDB client.
 * Bundled with exactly the same esbuild settings as the real handlers (bench/bundle.ts).
 */
const client = new DynamoDBClient({});

export const handler = async (): Promise<string> => client.config.apiVersion;
