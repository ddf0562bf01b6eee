import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoApiKeyStore } from './adapters/dynamodb/api-key-store';
import { DynamoTaskStore } from './adapters/dynamodb/task-store';
import { HttpCallbackSender } from './adapters/http-callback-sender';
import { GeminiProvider } from './adapters/providers/gemini-provider';
import { S3VideoStore } from './adapters/s3-video-store';
import { SqsTaskQueues } from './adapters/sqs-task-queues';
import type { Config } from './config';
import type { Deps, Settings } from './core/deps';
import type { VideoProvider } from './core/ports';

/**
 * The one composition point: builds every adapter from the validated config. Handlers call it once at
 * module scope; the local runtime gets the same wiring by setting the emulators' endpoints in the config.
 */
export function createDeps(config: Config, serviceName: string): Deps {
  const region = process.env.AWS_REGION ?? 'us-east-1';
  const dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient({ region, endpoint: config.DYNAMODB_ENDPOINT }),
    {
      marshallOptions: { removeUndefinedValues: true },
    },
  );
  const sqs = new SQSClient({ region, endpoint: config.SQS_ENDPOINT });
  const s3 = new S3Client({
    region,
    endpoint: config.S3_ENDPOINT,
    forcePathStyle: config.S3_ENDPOINT !== undefined,
  });

  return {
    tasks: new DynamoTaskStore({
      client: dynamo,
      tasksTable: config.TASKS_TABLE,
      apiKeysTable: config.API_KEYS_TABLE,
    }),
    apiKeys: new DynamoApiKeyStore(dynamo, config.API_KEYS_TABLE),
    queues: new SqsTaskQueues(sqs, {
      generate: config.GENERATE_QUEUE_URL,
      poll: config.POLL_QUEUE_URL,
      notify: config.NOTIFY_QUEUE_URL,
    }),
    videos: new S3VideoStore({
      s3,
      bucket: config.VIDEO_BUCKET,
      urlTtlSeconds: config.RESULT_URL_TTL_SECONDS,
    }),
    provider: createProvider(config),
    callbacks: new HttpCallbackSender(),
    settings: settingsFrom(config),
    log: new Logger({ serviceName }),
    now: Date.now,
  };
}

export function settingsFrom(config: Config): Settings {
  return {
    prices: { veo3: config.PRICE_VEO3, veo3_fast: config.PRICE_VEO3_FAST },
    retentionDays: config.RETENTION_DAYS,
    budgetSeconds: config.TASK_BUDGET_SECONDS,
    pollIntervalSeconds: config.POLL_INTERVAL_SECONDS,
    urlPolicy: { allowLoopback: config.ALLOW_LOOPBACK_URLS, allowHttp: config.ALLOW_HTTP_CALLBACKS },
  };
}

function createProvider(config: Config): VideoProvider {
  switch (config.PROVIDER) {
    case 'simulator':
      // The simulator speaks the Gemini API's wire format.
      return new GeminiProvider({
        name: 'simulator',
        baseUrl: config.PROVIDER_BASE_URL,
        models: {
          veo3: config.VEO3_MODEL_ID ?? 'veo-3.1-generate-preview',
          veo3_fast: config.VEO3_FAST_MODEL_ID ?? 'veo-3.1-fast-generate-preview',
        },
      });
  }
}
