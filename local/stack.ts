import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyResultV2,
  Context,
  SQSBatchResponse,
  SQSEvent,
} from 'aws-lambda';
import { findFfmpeg } from '../functions/adapters/media/ffmpeg';
import { hashApiKey, newApiKey, newWebhookSecret } from '../functions/core/api-keys';
import { type ProviderName, providerNames } from '../functions/core/ports';
import {
  consumerOf,
  type FunctionName,
  functionEntries,
  functions,
  kebab,
  type QueueName,
  queues,
  type TableName,
  tables,
  UPSTREAM_CALLBACK_PATH,
  videoBucket,
} from '../functions/manifest';
import { fakeServiceAccount } from '../simulator/fixtures';
import type { QuotaOption } from '../simulator/operations';
import type { Simulator, SimulatorOptions } from '../simulator/server';
import { startSimulatorThread } from '../simulator/thread';
import { buildSite } from '../site/build';
import { type ConsumerQueue, type EmulatorEndpoints, startEmulators } from './emulators';
import { startHttpGateway, startingResponse } from './http-gateway';
import { createLambdaContext } from './lambda-context';
import { type SqsEventSource, startSqsEventSource } from './sqs-event-source';
import type { SqsFaultProxy } from './sqs-fault-proxy';
import { publishStack } from './stack-file';

/**
 * The whole system on one machine: DynamoDB Local and fauxqs in place of AWS, the simulator in place of
 * Veo, an HTTP gateway in place of API Gateway and event-source pollers in place of Lambda's SQS
 * integration. The handlers are the very modules deployed to Lambda; only their endpoints differ.
 */
export interface LocalStackOptions {
  port?: number;
  /** Which provider the worker uses; every one of them talks to the simulator in its own wire format. */
  provider?: string;
  /**
   * A pool of upstreams instead of one provider (issue 16): one simulator per entry, each in its
   * provider's wire format, with its own credentials, quota and request log, and UPSTREAMS pointing each
   * upstream at its simulator. `provider` is then ignored. E.g. `['vertex', 'gemini', 'kie']`.
   */
  pool?: PoolUpstreamOption[];
  /** Development key seeded with plenty of credits; generated when absent. */
  devApiKey?: string;
  devWebhookSecret?: string;
  devCredits?: number;
  /** Simulated generation time (shortcut for simulator.latencyMs). */
  simulatorLatencyMs?: number;
  /**
   * Vertex AI's push (provider `vertex`): its videos written to a bucket (VERTEX_STORAGE_URI) whose
   * notifications a Pub/Sub subscription pushes to our upstream-callback URL with tokens of
   * `localPushAccount`, as a user would set it up in their Google Cloud project; the functions verify them.
   */
  vertexPush?: boolean;
  /** Everything else the simulator can do: failure, 429 and rejection rates, upstream quotas. */
  simulator?: SimulatorOptions;
  pollIntervalSeconds?: number;
  /** Extra function configuration (e.g. QUOTA_LIMIT), as the deployed stack would set it. */
  environment?: Record<string, string>;
  /** Per-queue visibility timeouts (see emulators.ts for the defaults). */
  visibilityTimeoutSeconds?: Partial<Record<ConsumerQueue, number>>;
  /** Per-queue delivery delays (e.g. `{ generate: 30 }` holds new tasks queued, so cancel can be tried). */
  queueDelaySeconds?: Partial<Record<ConsumerQueue, number>>;
  /**
   * Which queues get an event source in this process (default all three); a benchmark runs a consumer in
   * a process of its own instead.
   */
  consumers?: ConsumerQueue[];
  /**
   * Which scheduled functions (the sweeper) run here, each on its manifest entry's local interval (or
   * SWEEP_INTERVAL_SECONDS from `environment`); default all. A benchmark may run none.
   */
  schedules?: FunctionName[];
  /** Told each HTTP and queue invocation's duration (the bench's GB-seconds per task). */
  onInvocation?: (name: FunctionName, ms: number) => void;
  /** Keep data across restarts under this folder; in memory when absent. */
  dataDir?: string;
  /**
   * Publish where this stack runs to this file (`defaultStackFile` for `npm start`), so the keys tool
   * finds it; the file is deleted when the stack stops. Not published when absent.
   */
  stackFile?: string;
  /**
   * Running DynamoDB Local and fauxqs to create this stack's tables, queues and bucket on (under names of
   * its own) instead of starting a pair; not with dataDir. Default: those named by VEO_SHARED_EMULATORS
   * (JSON), which the e2e tests set so their files share one pair (test/setup/emulators.ts).
   */
  emulators?: EmulatorEndpoints;
  /**
   * A fault-injection proxy (local/sqs-fault-proxy.ts) the functions' SQS calls go through (the soak
   * bench's fault table); the event sources still talk to fauxqs directly.
   */
  sqsProxy?: SqsFaultProxy;
}

/** A pool entry: a provider name (named after it), or one with its own name, quota, priority or simulator. */
export type PoolUpstreamOption =
  | ProviderName
  | {
      /** Default: the provider's name, `-2`, `-3`... when it repeats. */
      name?: string;
      provider: ProviderName;
      /** The upstream's submit quota, which its simulator enforces; default the provider's published one. */
      quota?: QuotaOption;
      priority?: number;
      /** This upstream's simulator, over the stack's `simulator` options. */
      simulator?: SimulatorOptions;
    };

/** One upstream of the local stack: its simulator (down()/up() for an outage), as the pool knows it. */
export interface LocalUpstream extends Simulator {
  name: string;
  provider: ProviderName;
  quota?: QuotaOption;
}

/**
 * The providers' published submit quotas (as functions/composition/settings.ts keeps to), which each
 * pool upstream's simulator enforces unless its entry says otherwise.
 */
const publishedQuotas: Partial<Record<ProviderName, QuotaOption>> = {
  kie: { limit: 20, windowMs: 10_000 },
  vertex: { limit: 50, windowMs: 60_000 },
  gemini: { limit: 10, windowMs: 60_000 },
};

export interface RunningLocalStack {
  url: string;
  /** The playground page and the API reference, served by the site function. */
  playgroundUrl: string;
  docsUrl: string;
  provider: ProviderName;
  apiKey: string;
  webhookSecret: string;
  /** The (first) upstream's simulator. */
  simulator: Simulator;
  /** Every upstream's simulator by upstream name: one for a single provider, one per pool entry. */
  upstreams: Record<string, LocalUpstream>;
  /**
   * Restarts the worker as after a crash: its event source stops at once and abandons the batch in flight
   * (not deleted, so it is redelivered after the generate queue's visibility timeout), and a fresh worker
   * (the handler module evaluated anew, with its own clients) takes over the queue. Resolves to the number
   * of messages abandoned.
   */
  restartWorker(): Promise<number>;
  /** Starts the event sources of `queues` not running yet (on a stack started with fewer `consumers`). */
  startConsumers(queues: readonly ConsumerQueue[]): void;
  /** Stops DynamoDB Local for `downMs`, then starts it on the same port and data (needs `dataDir`). */
  restartDynamoDb(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The playground and the API reference, built from site/ as the CDK bundling builds them: once per
 * process, since the site handler reads where they are when first imported; removed when it exits.
 */
let builtSite: Promise<string> | undefined;
function siteAssets(): Promise<string> {
  builtSite ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'veo-site-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    await buildSite(dir);
    return dir;
  })();
  return builtSite;
}

type HttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;
type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** A function's handler module, from its manifest entry (`instance` loads a fresh copy, as a new container would). */
/** The function whose invocation is running, while `onInvocation` listens: the bench's calls per function. */
export const invokedFunction = new AsyncLocalStorage<FunctionName>();

async function importHandler<H>(name: FunctionName, instance?: number): Promise<H> {
  const module = new URL(`../${functions[name].entry}`, import.meta.url);
  if (instance !== undefined) module.searchParams.set('instance', String(instance));
  return ((await import(/* @vite-ignore */ module.href)) as { handler: H }).handler;
}

/** The manifest's HTTP functions and SQS consumers: what the gateway routes and what the event sources drive. */
const httpFunctions = functionEntries.flatMap(([name, spec]) =>
  'http' in spec.trigger ? [{ name, routeKeys: spec.trigger.http }] : [],
);
const consumerTriggers = functionEntries.flatMap(([name, spec]) =>
  'queues' in spec.trigger ? spec.trigger.queues.map((trigger) => ({ name, trigger })) : [],
);
const scheduledFunctions = functionEntries.flatMap(([name, spec]) =>
  'schedule' in spec.trigger ? [{ name, everySeconds: spec.trigger.localEverySeconds }] : [],
);

/** The service account the local stack's storage notifications are pushed with (`vertexPush`). */
export const localPushAccount = 'veo-push@local-project.iam.gserviceaccount.com';

export async function startLocalStack(options: LocalStackOptions = {}): Promise<RunningLocalStack> {
  const provider = (options.provider ?? 'simulator') as ProviderName;
  if (!providerNames.includes(provider)) {
    throw new Error(`Unknown provider "${options.provider}"; available: ${providerNames.join(', ')}`);
  }
  const stoppers: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stoppers.splice(0).reverse()) await stop().catch(() => {});
  };

  try {
    const shared = process.env.VEO_SHARED_EMULATORS;
    const emulators = await startEmulators({
      attach:
        options.emulators ??
        (shared && options.dataDir === undefined ? (JSON.parse(shared) as EmulatorEndpoints) : undefined),
      dataDir: options.dataDir,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
      delaySeconds: options.queueDelaySeconds,
    });
    stoppers.push(() => emulators.stop());
    if (options.sqsProxy) options.sqsProxy.target = emulators.sqsEndpoint;

    const siteDir = await siteAssets();

    // The handlers are bound once the gateway's address is known: kie.ai needs it for its pushes.
    const bound: Partial<Record<FunctionName, HttpHandler>> = {};
    const late =
      (name: FunctionName): HttpHandler =>
      (event, context) => {
        const handler = bound[name];
        if (!handler) return Promise.resolve(startingResponse());
        return handler(event, context);
      };
    const gateway = await startHttpGateway({
      port: options.port ?? 8080,
      routes: httpFunctions.flatMap(({ name, routeKeys }) =>
        routeKeys.map((routeKey) => ({ routeKey, handler: late(name), functionName: kebab(name) })),
      ),
    });
    stoppers.push(() => gateway.stop());

    // Credentials the simulators check exactly as the real upstreams would; made up for each start.
    const upstreamEntries = options.pool ? poolEntries(options.pool) : undefined;
    const pushEndpoint = `${gateway.url}${UPSTREAM_CALLBACK_PATH}`;
    const single: SimulatorOptions = {
      latencyMs: options.simulatorLatencyMs ?? 4000,
      ...(options.vertexPush && {
        storageNotifications: { endpoint: pushEndpoint, serviceAccountEmail: localPushAccount },
      }),
      ...options.simulator,
    };
    const upstreams: Record<string, LocalUpstream> = {};
    const poolConfig: Record<string, unknown>[] = [];
    let upstream: UpstreamCredentials | undefined;
    for (const entry of upstreamEntries ?? [{ name: provider, provider }]) {
      const credentials = upstreamCredentials();
      upstream ??= credentials;
      const quota = upstreamEntries ? (entry.quota ?? publishedQuotas[entry.provider]) : undefined;
      const simulator = await startSimulatorThread({
        ...single,
        ...(upstreamEntries && { maxRecordedRequests: 20_000 }),
        ...(quota && { quota }),
        ...entry.simulator,
        apiKey: entry.provider === 'gemini' ? credentials.geminiKey : undefined,
        kieApiKey: credentials.kieKey,
        kieWebhookSecret: credentials.kieWebhookSecret,
        vertexServiceAccount: {
          clientEmail: credentials.serviceAccount.clientEmail,
          publicKey: credentials.serviceAccount.publicKey,
        },
      });
      stoppers.push(() => simulator.stop());
      upstreams[entry.name] = Object.assign(simulator, { name: entry.name, provider: entry.provider, quota });
      if (upstreamEntries) poolConfig.push(upstreamConfig(entry, simulator.url, credentials, quota));
    }
    const [first] = Object.values(upstreams);
    if (!first || !upstream) throw new Error('a pool needs at least one upstream');
    const simulator: Simulator = first;

    // The handlers read their configuration once, when first imported: set it before importing them.
    Object.assign(process.env, {
      AWS_REGION: emulators.region,
      AWS_ACCESS_KEY_ID: emulators.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: emulators.credentials.secretAccessKey,
      // Each resource's variable, as the manifest names it (the same the CDK construct sets).
      ...Object.fromEntries(
        (Object.keys(tables) as TableName[]).map((name) => [tables[name].env, emulators.tables[name]]),
      ),
      ...Object.fromEntries(
        (Object.keys(queues) as QueueName[]).map((name) => [queues[name].env, emulators.queues[name]]),
      ),
      ...Object.fromEntries(
        (Object.keys(queues) as QueueName[]).map((name) => [
          queues[name].dlqEnv,
          emulators.queues[`${name}Dlq`],
        ]),
      ),
      // Locally nothing kills a poll at the poller's timeout: a few seconds past a deadline suffice.
      SWEEP_GRACE_SECONDS: '5',
      WORKER_TIMEOUT_SECONDS: String(functions.worker.timeoutSeconds),
      POLLER_TIMEOUT_SECONDS: String(functions.poller.timeoutSeconds),
      [videoBucket.env]: emulators.bucket,
      DYNAMODB_ENDPOINT: emulators.dynamodbEndpoint,
      SQS_ENDPOINT: options.sqsProxy?.url ?? emulators.sqsEndpoint,
      EVENTS_QUEUE_URL: emulators.eventsQueue,
      // No SigV4 locally: the IAM routes take the caller from a header, on this stack only.
      LOCAL_IAM_PRINCIPAL_HEADER: 'true',
      S3_ENDPOINT: emulators.s3Endpoint,
      PROVIDER: first.provider,
      PROVIDER_BASE_URL: simulator.url,
      GEMINI_API_KEY: upstream.geminiKey,
      KIE_API_KEY: upstream.kieKey,
      KIE_WEBHOOK_SECRET: upstream.kieWebhookSecret,
      VERTEX_SERVICE_ACCOUNT_JSON: upstream.serviceAccount.key,
      VERTEX_PROJECT: 'local-project',
      VERTEX_TOKEN_URL: `${simulator.url}/token`,
      UPSTREAM_CALLBACK_URL: pushEndpoint,
      ...(options.vertexPush && {
        VERTEX_STORAGE_URI: 'gs://local-videos/veo',
        VERTEX_STORAGE_URL: simulator.url,
        VERTEX_PUSH_ACCOUNT: localPushAccount,
        VERTEX_PUSH_JWKS_URL: `${simulator.url}/oauth2/v3/certs`,
      }),
      ALLOW_LOOPBACK_URLS: 'true',
      ALLOW_HTTP_CALLBACKS: 'true',
      FFMPEG_AVAILABLE: String(findFfmpeg() !== undefined),
      POLL_INTERVAL_SECONDS: String(options.pollIntervalSeconds ?? 1),
      // Polling only unless a test asks for the Gemini API's webhooks (GEMINI_WEBHOOKS: 'true').
      GEMINI_WEBHOOKS: 'false',
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
      POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
      SITE_ASSETS_DIR: siteDir,
      ...(upstreamEntries && { UPSTREAMS: JSON.stringify(poolConfig) }),
      ...options.environment,
    });

    const [{ loadConfig }, { apiKeyStore, dynamoDocumentClient }] = await Promise.all([
      import('../functions/config'),
      import('../functions/composition/dynamodb'),
    ]);
    const apiKey = options.devApiKey || newApiKey();
    const webhookSecret = options.devWebhookSecret || newWebhookSecret();
    const config = loadConfig();
    const apiKeys = apiKeyStore(config, dynamoDocumentClient(config));
    const existing = await apiKeys.get(hashApiKey(apiKey));
    await apiKeys.put({
      keyHash: hashApiKey(apiKey),
      name: 'development',
      // Keep a persisted balance across restarts; top up a new key.
      credits: existing?.credits ?? options.devCredits ?? 100_000,
      webhookSecret,
      createdAt: existing?.createdAt ?? Date.now(),
    });

    // Each invocation timed, when someone listens (a handler's own promise, as Lambda bills it).
    const timed = <H extends (...args: never[]) => Promise<unknown>>(name: FunctionName, handler: H): H => {
      const listener = options.onInvocation;
      if (!listener) return handler;
      return (async (...args: Parameters<H>) => {
        const started = performance.now();
        try {
          return await invokedFunction.run(name, () => handler(...args));
        } finally {
          listener(name, performance.now() - started);
        }
      }) as H;
    };
    for (const { name } of httpFunctions) bound[name] = timed(name, await importHandler<HttpHandler>(name));
    const consumers = new Map<ConsumerQueue, SqsHandler>();
    for (const { name, trigger } of consumerTriggers)
      consumers.set(trigger.queue, timed(name, await importHandler<SqsHandler>(name)));

    const sqs = new SQSClient({
      region: emulators.region,
      endpoint: emulators.sqsEndpoint,
      credentials: { ...emulators.credentials },
    });
    const sources = new Map<ConsumerQueue, SqsEventSource>();
    const consume = (queue: ConsumerQueue, handler: SqsHandler) => {
      const found = consumerTriggers.find(({ trigger }) => trigger.queue === queue);
      if (!found) throw new Error(`No function consumes the ${queue} queue`);
      const { name, trigger } = found;
      sources.set(
        queue,
        startSqsEventSource({
          sqs,
          queueUrl: emulators.queues[queue],
          queueArn: emulators.queueArns[queue],
          handler,
          functionName: kebab(name),
          batchSize: trigger.batchSize,
          // The worker's pollers as deployed: one would hold back a burst's reserved submits.
          concurrency: name === 'worker' ? trigger.maxConcurrency : undefined,
          timeoutMs: functions[name].timeoutSeconds * 1000,
        }),
      );
    };
    const consumed = options.consumers ?? [...consumers.keys()];
    for (const queue of consumed) {
      const handler = consumers.get(queue);
      if (handler) consume(queue, handler);
    }
    stoppers.push(async () => {
      for (const source of sources.values()) await source.stop();
    });

    // Scheduled functions on an interval, as EventBridge would invoke them; a run still going skips a tick.
    for (const { name, everySeconds } of scheduledFunctions) {
      if (options.schedules && !options.schedules.includes(name)) continue;
      const handler = await importHandler<(event: unknown, context: Context) => Promise<unknown>>(name);
      const seconds = Number(process.env.SWEEP_INTERVAL_SECONDS ?? everySeconds);
      let running: Promise<unknown> | undefined;
      const timer = setInterval(() => {
        const context = createLambdaContext({
          functionName: kebab(name),
          timeoutMs: functions[name].timeoutSeconds * 1000,
          region: emulators.region,
        });
        running ??= handler({ source: 'local.schedule' }, context)
          .catch((error: unknown) => console.error(`${kebab(name)} failed:`, error))
          .finally(() => {
            running = undefined;
          });
      }, seconds * 1000);
      stoppers.push(async () => {
        clearInterval(timer);
        await running;
      });
    }

    let workerInstances = 0;
    const restartWorker = async () => {
      const queues = [...sources.keys()].filter((queue) => consumerOf(queue) === 'worker');
      if (queues.length === 0) throw new Error('this stack runs no worker');
      let abandoned = 0;
      for (const queue of queues) abandoned += sources.get(queue)?.crash() ?? 0;
      // A new instance of the module, as a fresh Lambda container would import it.
      const handler = await importHandler<SqsHandler>('worker', ++workerInstances);
      for (const queue of queues) consume(queue, handler);
      return abandoned;
    };

    if (options.stackFile !== undefined) {
      const unpublish = await publishStack(options.stackFile, {
        pid: process.pid,
        url: gateway.url,
        region: emulators.region,
        dynamodbEndpoint: emulators.dynamodbEndpoint,
        tables: emulators.tables,
        startedAt: new Date().toISOString(),
      });
      stoppers.push(unpublish);
    }

    return {
      url: gateway.url,
      playgroundUrl: `${gateway.url}/playground`,
      docsUrl: `${gateway.url}/docs`,
      provider: first.provider,
      apiKey,
      webhookSecret,
      simulator,
      upstreams,
      restartWorker,
      startConsumers: (queues) => {
        for (const queue of queues) {
          const handler = consumers.get(queue);
          if (handler && !sources.has(queue)) consume(queue, handler);
        }
      },
      restartDynamoDb: emulators.restartDynamoDb,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

interface UpstreamCredentials {
  geminiKey: string;
  kieKey: string;
  kieWebhookSecret: string;
  serviceAccount: ReturnType<typeof fakeServiceAccount>;
}

/** One upstream account's credentials, made up: each pool upstream has its own, as separate accounts do. */
function upstreamCredentials(): UpstreamCredentials {
  return {
    geminiKey: `sim-gemini-${randomBytes(8).toString('hex')}`,
    kieKey: `sim-kie-${randomBytes(8).toString('hex')}`,
    kieWebhookSecret: randomBytes(24).toString('base64'),
    serviceAccount: fakeServiceAccount({ projectId: 'local-project' }),
  };
}

type PoolEntry = Exclude<PoolUpstreamOption, ProviderName> & { name: string };

/** The pool option with every entry named: the provider's name, `-2`, `-3`... when it repeats. */
export function poolEntries(pool: PoolUpstreamOption[]): PoolEntry[] {
  if (pool.length === 0) throw new Error('a pool needs at least one upstream');
  const seen = new Map<string, number>();
  return pool.map((option) => {
    const entry = typeof option === 'string' ? { provider: option } : option;
    if (!providerNames.includes(entry.provider)) {
      throw new Error(`Unknown provider "${entry.provider}"; available: ${providerNames.join(', ')}`);
    }
    const count = (seen.get(entry.provider) ?? 0) + 1;
    seen.set(entry.provider, count);
    const name = entry.name ?? (count === 1 ? entry.provider : `${entry.provider}-${count}`);
    return { ...entry, name };
  });
}

/** The upstream's UPSTREAMS entry (the pool's config contract), pointed at its simulator. */
function upstreamConfig(
  entry: PoolEntry,
  baseUrl: string,
  credentials: UpstreamCredentials,
  quota: QuotaOption | undefined,
): Record<string, unknown> {
  const secret = {
    gemini: { apiKey: credentials.geminiKey },
    kie: { apiKey: credentials.kieKey, webhookSecret: credentials.kieWebhookSecret },
    vertex: { serviceAccountJson: credentials.serviceAccount.key },
    simulator: undefined,
  }[entry.provider];
  return {
    name: entry.name,
    provider: entry.provider,
    baseUrl,
    ...(entry.provider === 'vertex' && {
      tokenUrl: `${baseUrl}/token`,
      project: 'local-project',
      region: 'us-central1',
    }),
    ...(secret && { secret }),
    ...(quota && {
      // The upstream's own window: the workers keep their margin over it (core/rate-window.ts).
      quota: { limit: quota.limit, windowSeconds: quota.windowMs / 1000 },
    }),
    ...(entry.priority !== undefined && { priority: entry.priority }),
  };
}
