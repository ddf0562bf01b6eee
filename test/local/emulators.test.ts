import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, HeadBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counterTable } from '../../functions/adapters/dynamodb/tables';
import { type LocalStack, startEmulators } from '../../local/emulators';

const clientsFor = (stack: LocalStack) => {
  const base = { region: stack.region, credentials: stack.credentials };
  return {
    dynamodb: new DynamoDBClient({ ...base, endpoint: stack.dynamodbEndpoint }),
    sqs: new SQSClient({ ...base, endpoint: stack.sqsEndpoint }),
    s3: new S3Client({ ...base, endpoint: stack.s3Endpoint, forcePathStyle: true }),
  };
};

describe('startEmulators', () => {
  let stack: LocalStack;
  let clients: ReturnType<typeof clientsFor>;

  beforeAll(async () => {
    stack = await startEmulators();
    clients = clientsFor(stack);
  });

  afterAll(async () => {
    for (const client of Object.values(clients ?? {})) client.destroy();
    await stack?.stop();
  });

  // How quickly is a figure for `npm run bench`, not an assertion here (a loaded machine is slow, not wrong).
  it('starts both emulators on loopback ports', () => {
    expect(stack.dynamodbEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stack.sqsEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stack.s3Endpoint).toBe(stack.sqsEndpoint);
    expect(stack.region).toBe('us-east-1');
    expect(stack.credentials).toEqual({ accessKeyId: 'local', secretAccessKey: 'local' });
  });

  it('creates the tasks table with its key, the byKey index and TTL', async () => {
    const { Table } = await clients.dynamodb.send(
      new DescribeTableCommand({ TableName: stack.tables.tasks }),
    );
    expect(stack.tables).toEqual({ tasks: 'veo-tasks', apiKeys: 'veo-api-keys', counters: 'veo-counters' });
    expect(Table?.KeySchema).toEqual([{ AttributeName: 'taskId', KeyType: 'HASH' }]);
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(Table?.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: 'taskId', AttributeType: 'S' },
        { AttributeName: 'keyHash', AttributeType: 'S' },
        { AttributeName: 'createdAt', AttributeType: 'N' },
        { AttributeName: 'sweepShard', AttributeType: expect.any(String) },
        { AttributeName: 'sweepAt', AttributeType: 'N' },
      ]),
    );
    expect(Table?.AttributeDefinitions).toHaveLength(5);
    expect(Table?.GlobalSecondaryIndexes).toHaveLength(2);
    expect(Table?.GlobalSecondaryIndexes?.find((i) => i.IndexName === 'bySweepAt')).toMatchObject({
      KeySchema: [
        { AttributeName: 'sweepShard', KeyType: 'HASH' },
        { AttributeName: 'sweepAt', KeyType: 'RANGE' },
      ],
    });
    expect(Table?.GlobalSecondaryIndexes?.find((i) => i.IndexName === 'byKey')).toMatchObject({
      IndexName: 'byKey',
      KeySchema: [
        { AttributeName: 'keyHash', KeyType: 'HASH' },
        { AttributeName: 'createdAt', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    });

    const ttl = await clients.dynamodb.send(new DescribeTimeToLiveCommand({ TableName: stack.tables.tasks }));
    expect(ttl.TimeToLiveDescription).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
  });

  it('creates the api keys table keyed by hash, without index or TTL', async () => {
    const { Table } = await clients.dynamodb.send(
      new DescribeTableCommand({ TableName: stack.tables.apiKeys }),
    );
    expect(Table?.KeySchema).toEqual([{ AttributeName: 'keyHash', KeyType: 'HASH' }]);
    expect(Table?.AttributeDefinitions).toEqual([{ AttributeName: 'keyHash', AttributeType: 'S' }]);
    expect(Table?.GlobalSecondaryIndexes).toBeUndefined();
    const ttl = await clients.dynamodb.send(
      new DescribeTimeToLiveCommand({ TableName: stack.tables.apiKeys }),
    );
    expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toBe('DISABLED');
  });

  it('creates the counters table from its layout, with TTL', async () => {
    const { Table } = await clients.dynamodb.send(
      new DescribeTableCommand({ TableName: stack.tables.counters }),
    );
    expect(Table?.KeySchema).toEqual([{ AttributeName: counterTable.partitionKey, KeyType: 'HASH' }]);
    expect(Table?.AttributeDefinitions).toEqual([
      { AttributeName: counterTable.partitionKey, AttributeType: 'S' },
    ]);
    expect(Table?.GlobalSecondaryIndexes).toBeUndefined();
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    const ttl = await clients.dynamodb.send(
      new DescribeTimeToLiveCommand({ TableName: stack.tables.counters }),
    );
    expect(ttl.TimeToLiveDescription).toEqual({
      TimeToLiveStatus: 'ENABLED',
      AttributeName: counterTable.ttlAttribute,
    });
  });

  it('serves transactions and lists a key’s tasks newest first through the index', async () => {
    const task = (taskId: string, createdAt: number) => ({
      Put: {
        TableName: stack.tables.tasks,
        Item: { taskId: { S: taskId }, keyHash: { S: 'k1' }, createdAt: { N: String(createdAt) } },
        ConditionExpression: 'attribute_not_exists(taskId)',
      },
    });
    await clients.dynamodb.send(
      new TransactWriteItemsCommand({ TransactItems: [task('t-old', 9), task('t-new', 10)] }),
    );
    // A conditional failure inside a transaction must cancel all of it.
    await expect(
      clients.dynamodb.send(
        new TransactWriteItemsCommand({ TransactItems: [task('t-third', 5), task('t-old', 1)] }),
      ),
    ).rejects.toThrow(/cancel/i);

    const { Items = [] } = await clients.dynamodb.send(
      new QueryCommand({
        TableName: stack.tables.tasks,
        IndexName: 'byKey',
        KeyConditionExpression: 'keyHash = :k',
        ExpressionAttributeValues: { ':k': { S: 'k1' } },
        ScanIndexForward: false,
      }),
    );
    // A numeric sort key puts 10 before 9 when newest first; a string one would put "9" first.
    expect(Items.map((item) => item.taskId?.S)).toEqual(['t-new', 't-old']);
  });

  it('creates the four queues with dead-letter queues and redrive policies', async () => {
    const expectedVisibility = { generate: '10', reserved: '10', poll: '30', notify: '10' };
    for (const queue of ['generate', 'reserved', 'poll', 'notify'] as const) {
      expect(stack.queues[queue]).toMatch(new RegExp(`/veo-${queue}$`));
      expect(stack.queues[`${queue}Dlq`]).toMatch(new RegExp(`/veo-${queue}-dlq$`));
      const { Attributes = {} } = await clients.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: stack.queues[queue], AttributeNames: ['All'] }),
      );
      expect(Attributes.QueueArn).toBe(stack.queueArns[queue]);
      expect(Attributes.VisibilityTimeout).toBe(expectedVisibility[queue]);
      expect(JSON.parse(Attributes.RedrivePolicy ?? '{}')).toEqual({
        deadLetterTargetArn: stack.queueArns[`${queue}Dlq`],
        maxReceiveCount: 5,
      });
      const dlq = await clients.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: stack.queues[`${queue}Dlq`], AttributeNames: ['All'] }),
      );
      expect(dlq.Attributes?.QueueArn).toBe(stack.queueArns[`${queue}Dlq`]);
      expect(dlq.Attributes?.RedrivePolicy).toBeUndefined();
    }
  });

  it('creates the video bucket', async () => {
    expect(stack.bucket).toBe('veo-videos');
    await expect(clients.s3.send(new HeadBucketCommand({ Bucket: stack.bucket }))).resolves.toBeDefined();
    await expect(clients.s3.send(new HeadBucketCommand({ Bucket: 'not-a-bucket' }))).rejects.toThrow();
  });

  it('stop() ends DynamoDB Local and fauxqs', async () => {
    await stack.stop();
    const quick = { region: stack.region, credentials: stack.credentials, maxAttempts: 1 };
    const dynamodb = new DynamoDBClient({ ...quick, endpoint: stack.dynamodbEndpoint });
    const sqs = new SQSClient({ ...quick, endpoint: stack.sqsEndpoint });
    try {
      await expect(dynamodb.send(new ListTablesCommand({}))).rejects.toThrow(/ECONNREFUSED/);
      await expect(
        sqs.send(new GetQueueAttributesCommand({ QueueUrl: stack.queues.generate, AttributeNames: ['All'] })),
      ).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      dynamodb.destroy();
      sqs.destroy();
    }
    // A second stop() is harmless (afterAll calls it again).
    await expect(stack.stop()).resolves.toBeUndefined();
  });
});

describe('startEmulators with a data directory', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'veo-emulators-'));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps tables, items and objects across restarts and applies new queue settings', async () => {
    const first = await startEmulators({ dataDir });
    let clients = clientsFor(first);
    try {
      await clients.dynamodb.send(
        new PutItemCommand({ TableName: first.tables.apiKeys, Item: { keyHash: { S: 'persisted' } } }),
      );
      await clients.s3.send(
        new PutObjectCommand({ Bucket: first.bucket, Key: 'videos/t1/a.mp4', Body: 'mp4' }),
      );
    } finally {
      for (const client of Object.values(clients)) client.destroy();
      await first.stop();
    }

    const second = await startEmulators({ dataDir, visibilityTimeoutSeconds: { poll: 7 } });
    clients = clientsFor(second);
    try {
      const { Item } = await clients.dynamodb.send(
        new GetItemCommand({ TableName: second.tables.apiKeys, Key: { keyHash: { S: 'persisted' } } }),
      );
      expect(Item?.keyHash?.S).toBe('persisted');
      const object = await clients.s3.send(
        new GetObjectCommand({ Bucket: second.bucket, Key: 'videos/t1/a.mp4' }),
      );
      expect(await object.Body?.transformToString()).toBe('mp4');
      const { Attributes } = await clients.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: second.queues.poll,
          AttributeNames: ['VisibilityTimeout'],
        }),
      );
      expect(Attributes?.VisibilityTimeout).toBe('7');
    } finally {
      for (const client of Object.values(clients)) client.destroy();
      await second.stop();
    }
  });
});
