import { SQSClient } from '@aws-sdk/client-sqs';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyResultV2,
  Context,
  SQSBatchResponse,
  SQSEvent,
} from 'aws-lambda';
import { hashApiKey, newApiKey, newWebhookSecret } from '../functions/core/api-keys';
import { startSimulator } from '../simulator/server';
import { type ConsumerQueue, startEmulators } from './emulators';
import { startHttpGateway } from './http-gateway';
import { startSqsEventSource } from './sqs-event-source';

/**
 * The whole system on one machine: DynamoDB Local and fauxqs in place of AWS, the simulator in place of
 * Veo, an HTTP gateway in place of API Gateway and event-source pollers in place of Lambda's SQS
 * integration. The handlers are the very modules deployed to Lambda; only their endpoints differ.
 */
export interface LocalStackOptions {
  port?: number;
  provider?: string;
  /** Development key seeded with plenty of credits; generated when absent. */
  devApiKey?: string;
  devWebhookSecret?: string;
  devCredits?: number;
  /** Simulated generation time. */
  simulatorLatencyMs?: number;
  pollIntervalSeconds?: number;
  /** Keep data across restarts under this folder; in memory when absent. */
  dataDir?: string;
}

export interface RunningLocalStack {
  url: string;
  apiKey: string;
  webhookSecret: string;
  simulatorUrl: string;
  stop(): Promise<void>;
}

type HttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;
type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export const localProviders = ['simulator'] as const;

export async function startLocalStack(options: LocalStackOptions = {}): Promise<RunningLocalStack> {
  const provider = options.provider ?? 'simulator';
  if (!(localProviders as readonly string[]).includes(provider)) {
    throw new Error(`Unknown provider "${provider}"; available: ${localProviders.join(', ')}`);
  }
  const stoppers: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stoppers.splice(0).reverse()) await stop().catch(() => {});
  };

  try {
    const emulators = await startEmulators({ dataDir: options.dataDir });
    stoppers.push(() => emulators.stop());
    const simulator = await startSimulator({ latencyMs: options.simulatorLatencyMs ?? 4000 });
    stoppers.push(() => simulator.stop());

    // The handlers read their configuration once, when first imported: set it before importing them.
    Object.assign(process.env, {
      AWS_REGION: emulators.region,
      AWS_ACCESS_KEY_ID: emulators.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: emulators.credentials.secretAccessKey,
      TASKS_TABLE: emulators.tables.tasks,
      API_KEYS_TABLE: emulators.tables.apiKeys,
      GENERATE_QUEUE_URL: emulators.queues.generate,
      POLL_QUEUE_URL: emulators.queues.poll,
      NOTIFY_QUEUE_URL: emulators.queues.notify,
      VIDEO_BUCKET: emulators.bucket,
      PROVIDER: provider,
      PROVIDER_BASE_URL: simulator.url,
      DYNAMODB_ENDPOINT: emulators.dynamodbEndpoint,
      SQS_ENDPOINT: emulators.sqsEndpoint,
      S3_ENDPOINT: emulators.s3Endpoint,
      ALLOW_LOOPBACK_URLS: 'true',
      ALLOW_HTTP_CALLBACKS: 'true',
      POLL_INTERVAL_SECONDS: String(options.pollIntervalSeconds ?? 1),
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    });

    const [{ loadConfig }, { createDeps }] = await Promise.all([
      import('../functions/config'),
      import('../functions/container'),
    ]);
    const apiKey = options.devApiKey || newApiKey();
    const webhookSecret = options.devWebhookSecret || newWebhookSecret();
    const { apiKeys } = createDeps(loadConfig(), 'local');
    const existing = await apiKeys.get(hashApiKey(apiKey));
    await apiKeys.put({
      keyHash: hashApiKey(apiKey),
      name: 'development',
      // Keep a persisted balance across restarts; top up a new key.
      credits: existing?.credits ?? options.devCredits ?? 100_000,
      webhookSecret,
    });

    const api = (await import('../functions/api')).handler as HttpHandler;
    const upstreamCallback = (await import('../functions/upstream-callback')).handler as HttpHandler;
    const consumers: Record<ConsumerQueue, SqsHandler> = {
      generate: (await import('../functions/worker')).handler,
      poll: (await import('../functions/poller')).handler,
      notify: (await import('../functions/notifier')).handler,
    };

    const gateway = await startHttpGateway({
      port: options.port ?? 8080,
      routes: [
        { routeKey: 'POST /internal/upstream-callback', handler: upstreamCallback },
        { routeKey: '$default', handler: api },
      ],
    });
    stoppers.push(() => gateway.stop());

    const sqs = new SQSClient({
      region: emulators.region,
      endpoint: emulators.sqsEndpoint,
      credentials: emulators.credentials,
    });
    for (const queue of Object.keys(consumers) as ConsumerQueue[]) {
      const source = startSqsEventSource({
        sqs,
        queueUrl: emulators.queues[queue],
        queueArn: emulators.queueArns[queue],
        handler: consumers[queue],
        functionName: { generate: 'worker', poll: 'poller', notify: 'notifier' }[queue],
      });
      stoppers.push(() => source.stop());
    }

    return { url: gateway.url, apiKey, webhookSecret, simulatorUrl: simulator.url, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
