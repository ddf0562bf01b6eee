import { CfnOutput, Stack, type StackProps, Token } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { Config } from '../functions/config';
import { Alarms } from './constructs/alarms';
import { Api } from './constructs/api';
import { consumerTimeouts, Functions } from './constructs/functions';
import { Queues } from './constructs/queues';
import { Site } from './constructs/site';
import { Storage } from './constructs/storage';
import type { StackSettings } from './settings';

export interface VeoStackProps extends StackProps {
  settings: StackSettings;
}

/**
 * The whole service in one stack, built from the constructs that map to SPEC §1:
 * Storage and Queues (stateful), Functions and Api (stateless), Alarms and the dashboard.
 */
export class VeoStack extends Stack {
  constructor(scope: Construct, id: string, props: VeoStackProps) {
    super(scope, id, props);
    const { settings } = props;

    const storage = new Storage(this, 'Storage', { retentionDays: settings.retentionDays });
    const queues = new Queues(this, 'Queues', { consumerTimeouts });

    // One environment for every function: functions/config.ts requires all of it at cold start.
    const environment = {
      TASKS_TABLE: storage.tasks.tableName,
      API_KEYS_TABLE: storage.apiKeys.tableName,
      COUNTERS_TABLE: storage.counters.tableName,
      GENERATE_QUEUE_URL: queues.generate.queueUrl,
      POLL_QUEUE_URL: queues.poll.queueUrl,
      NOTIFY_QUEUE_URL: queues.notify.queueUrl,
      VIDEO_BUCKET: storage.videos.bucketName,
      PROVIDER: settings.provider,
      ...(settings.providerBaseUrl && { PROVIDER_BASE_URL: settings.providerBaseUrl }),
      ...(settings.providerSecretArn && { PROVIDER_SECRET_ARN: settings.providerSecretArn }),
      ...(settings.vertexProject && { VERTEX_PROJECT: settings.vertexProject }),
      ...(settings.vertexRegion && { VERTEX_REGION: settings.vertexRegion }),
      ...(settings.vertexStorageUri && { VERTEX_STORAGE_URI: settings.vertexStorageUri }),
      ...(settings.quotaLimit !== undefined && { QUOTA_LIMIT: String(settings.quotaLimit) }),
      ...(settings.quotaWindowSeconds !== undefined && {
        QUOTA_WINDOW_SECONDS: String(settings.quotaWindowSeconds),
      }),
      TRANSLATOR: settings.translation,
      // The api refuses watermark requests where the poller has no ffmpeg; only the layer brings it.
      FFMPEG_AVAILABLE: String(settings.ffmpegLayerArn !== undefined),
      ALLOW_HTTP_CALLBACKS: String(settings.allowHttpCallbacks),
      RETENTION_DAYS: String(settings.retentionDays),
      POLL_INTERVAL_SECONDS: String(settings.pollIntervalSeconds),
      ...(settings.veo3ModelId && { VEO3_MODEL_ID: settings.veo3ModelId }),
      ...(settings.veo3FastModelId && { VEO3_FAST_MODEL_ID: settings.veo3FastModelId }),
    } satisfies Partial<Record<keyof Config, string>>;

    // Imported by ARN, the secret and the layer must live in this stack's region: Lambda attaches only
    // same-region layers, and the functions' Secrets Manager client asks this region.
    for (const [key, arn] of [
      ['providerSecretArn', settings.providerSecretArn],
      ['ffmpegLayerArn', settings.ffmpegLayerArn],
    ] as const) {
      const arnRegion = arn?.split(':')[3];
      if (arnRegion && !Token.isUnresolved(this.region) && arnRegion !== this.region) {
        throw new Error(`CDK context "${key}" is in ${arnRegion}, but the stack deploys to ${this.region}`);
      }
    }

    const functions = new Functions(this, 'Functions', {
      storage,
      queues,
      environment,
      upstream: {
        providerSecretArn: settings.providerSecretArn,
        translate: settings.translation === 'amazon',
        ffmpegLayerArn: settings.ffmpegLayerArn,
      },
    });
    const site = new Site(this, 'Site', { videos: storage.videos });
    const api = new Api(this, 'Api', {
      api: functions.api,
      upstreamCallback: functions.upstreamCallback,
      site: site.fn,
    });
    // Only the worker tells the upstream where to push (kie's callBackUrl). Added once the API exists:
    // the worker depends on the API, never the other way round, so there is no cycle.
    functions.worker.addEnvironment('UPSTREAM_CALLBACK_URL' satisfies keyof Config, api.upstreamCallbackUrl);
    new Alarms(this, 'Alarms', {
      queues: { generate: queues.generate, poll: queues.poll, notify: queues.notify },
      deadLetterQueues: queues.deadLetterQueues,
      functions: {
        api: functions.api,
        upstreamCallback: functions.upstreamCallback,
        worker: functions.worker,
        poller: functions.poller,
        notifier: functions.notifier,
      },
      httpApi: api.httpApi,
    });

    new CfnOutput(this, 'ApiUrl', { value: api.url, description: 'Base URL of the API (add /api/v1/...)' });
    new CfnOutput(this, 'PlaygroundUrl', {
      value: `${api.url}playground`,
      description: 'Try the API in the browser (API reference at /docs)',
    });
    new CfnOutput(this, 'ApiKeysTableName', {
      value: storage.apiKeys.tableName,
      description: 'Table `npm run keys` mints API keys into',
    });
  }
}
