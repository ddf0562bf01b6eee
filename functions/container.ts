import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { TranslateClient } from '@aws-sdk/client-translate';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoApiKeyStore } from './adapters/dynamodb/api-key-store';
import { DynamoQuotaGate, type QuotaLimit } from './adapters/dynamodb/quota-gate';
import { DynamoTaskStore } from './adapters/dynamodb/task-store';
import { HttpCallbackSender } from './adapters/http-callback-sender';
import { HttpImageFetcher } from './adapters/images/http-image-fetcher';
import { findFfmpeg } from './adapters/media/ffmpeg';
import { FfmpegImageCropper } from './adapters/media/ffmpeg-image-cropper';
import { FfmpegUpscaler } from './adapters/media/ffmpeg-upscaler';
import { FfmpegWatermarker } from './adapters/media/ffmpeg-watermarker';
import { PowertoolsMetricsAdapter } from './adapters/observability/powertools-metrics';
import { type ProviderCredentials, providerSecret } from './adapters/provider-credentials';
import { createProvider, type Secret } from './adapters/providers';
import { S3VideoStore } from './adapters/s3-video-store';
import { SqsTaskQueues } from './adapters/sqs-task-queues';
import { AmazonTranslator } from './adapters/translation/amazon-translator';
import { LocalTranslator } from './adapters/translation/local-translator';
import { PrefilteredTranslator } from './adapters/translation/prefiltered-translator';
import type { Config } from './config';
import type { Deps, Settings } from './core/deps';
import { failureMessages } from './core/errors';
import type { ImageCropper, ProviderName, VideoUpscaler, VideoWatermarker } from './core/ports';
import { renditionMessages } from './core/renditions';
import { refuseUrl } from './core/url-guard';

/**
 * The one composition point: builds every adapter from the validated config. Handlers call it once at
 * module scope; the local runtime gets the same wiring by setting the emulators' endpoints in the config.
 * Nothing here calls out: clients connect and secrets are read on first use.
 */
export function createDeps(config: Config, serviceName: string): Deps {
  const region = process.env.AWS_REGION ?? 'us-east-1';
  const settings = settingsFrom(config);
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
  const ffmpegPath = findFfmpeg();
  const provider = createProvider({
    provider: config.PROVIDER,
    baseUrl: config.PROVIDER_BASE_URL,
    ...secrets(config),
    project: config.VERTEX_PROJECT,
    region: config.VERTEX_REGION,
    tokenUrl: config.VERTEX_TOKEN_URL,
    storageUri: config.VERTEX_STORAGE_URI,
    models: { veo3: config.VEO3_MODEL_ID, veo3_fast: config.VEO3_FAST_MODEL_ID },
    videoUrlGuard: (url) => refuseUrl(url, settings.urlPolicy),
  });
  const quota = quotaFor(config);

  return {
    tasks: new DynamoTaskStore({
      client: dynamo,
      tasksTable: config.TASKS_TABLE,
      apiKeysTable: config.API_KEYS_TABLE,
      countersTable: config.COUNTERS_TABLE,
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
    provider,
    callbacks: new HttpCallbackSender(settings.urlPolicy),
    images: new HttpImageFetcher({ policy: settings.urlPolicy, maxBytes: config.IMAGE_MAX_BYTES }),
    cropper: ffmpegPath ? new FfmpegImageCropper({ ffmpegPath }) : uncroppedImages,
    translator:
      config.TRANSLATOR === 'amazon'
        ? new PrefilteredTranslator(new AmazonTranslator(new TranslateClient({ region })))
        : new LocalTranslator(),
    watermarker: ffmpegPath ? new FfmpegWatermarker({ ffmpegPath }) : noWatermarker,
    upscaler: ffmpegPath ? new FfmpegUpscaler({ ffmpegPath }) : noUpscaler,
    quota: new DynamoQuotaGate({
      client: dynamo,
      table: config.COUNTERS_TABLE,
      limits: quota ? { [provider.name]: quota } : {},
    }),
    settings,
    log: new Logger({ serviceName }),
    metrics: new PowertoolsMetricsAdapter(),
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
    ffmpegAvailable: config.FFMPEG_AVAILABLE,
    price4k: config.PRICE_4K,
    upstreamCallbackUrl: config.UPSTREAM_CALLBACK_URL,
    callbackRetrySeconds: config.CALLBACK_RETRY_SCHEDULE_SECONDS,
    rateLimit: config.RATE_LIMIT,
  };
}

/** The upstreams' published submit quotas; QUOTA_LIMIT / QUOTA_WINDOW_SECONDS override them. */
const publishedQuotas: Partial<Record<ProviderName, QuotaLimit>> = {
  kie: { limit: 20, windowMs: 10_000 }, // kie.ai: 20 new requests per 10 s per account
  vertex: { limit: 50, windowMs: 60_000 }, // Veo 3.1 GA on Vertex AI, per project and region
  gemini: { limit: 10, windowMs: 60_000 }, // Veo preview models on the Gemini API; tier-dependent
};

function quotaFor(config: Config): QuotaLimit | undefined {
  const published = publishedQuotas[config.PROVIDER];
  const limit = config.QUOTA_LIMIT ?? published?.limit;
  if (limit === undefined) return undefined;
  const windowMs = config.QUOTA_WINDOW_SECONDS
    ? config.QUOTA_WINDOW_SECONDS * 1000
    : (published?.windowMs ?? 60_000);
  return { limit, windowMs };
}

/** Each credential the provider may need, read lazily (Secrets Manager when deployed, env vars locally). */
function secrets(config: Config): { apiKey?: Secret; serviceAccountKey?: Secret; webhookSecret?: Secret } {
  const arn = config.PROVIDER_SECRET_ARN;
  if (!arn) {
    // Known now: pass them as they are, so a missing one fails at cold start, naming it.
    const local = config.PROVIDER === 'kie' ? config.KIE_API_KEY : config.GEMINI_API_KEY;
    return {
      apiKey: local,
      serviceAccountKey: config.VERTEX_SERVICE_ACCOUNT_JSON,
      webhookSecret: config.KIE_WEBHOOK_SECRET,
    };
  }
  const read = providerSecret(arn);
  const field = (name: keyof ProviderCredentials) => async () => {
    const value = (await read())[name];
    if (!value) throw new Error(`the provider secret has no "${name}"`);
    return value;
  };
  return {
    apiKey: field('apiKey'),
    serviceAccountKey: field('serviceAccountJson'),
    webhookSecret: field('webhookSecret'),
  };
}

/** Without ffmpeg (a deployment without the layer) Auto sends the image uncropped; Veo fits it itself. */
const uncroppedImages: ImageCropper = { crop: async (image) => image };

/** Submit refuses watermarks where ffmpeg is missing (FFMPEG_AVAILABLE), so this is only a safety net. */
const noWatermarker: VideoWatermarker = {
  stamp: () => Promise.reject(new Error(failureMessages.watermarkDisabled)),
};

/** The rendition endpoints answer 505 where ffmpeg is missing, so this is only a safety net. */
const noUpscaler: VideoUpscaler = {
  upscale: () => Promise.reject(new Error(renditionMessages.disabled)),
};
