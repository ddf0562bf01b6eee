import { Stack, Token } from 'aws-cdk-lib';
import type { ThrottleSettings } from 'aws-cdk-lib/aws-apigatewayv2';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus, type EventPattern, type IEventBus } from 'aws-cdk-lib/aws-events';
import type { Grant, IGrantable } from 'aws-cdk-lib/aws-iam';
import { type ILayerVersion, LayerVersion } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { videoOrigin } from '../functions/adapters/video-origin';
import type { Config } from '../functions/config';
import { eventSource, type TaskEventDetailType } from '../functions/core/task/change';
import {
  type FunctionName,
  functionEntries,
  functions as manifestFunctions,
  type QueueName,
  queues,
  type TableName,
  tables,
  videoBucket,
} from '../functions/manifest';
import { Alarms } from './constructs/alarms';
import { Api, grantIamInvoke } from './constructs/api';
import { Functions } from './constructs/functions';
import { Queues } from './constructs/queues';
import { Storage } from './constructs/storage';
import type { VeoFunction } from './constructs/veo-function';
import { parseSettings, type SettingsInput, type StackSettings, settingsEnvironment } from './settings';

/**
 * The deployment's settings (the same keys, validated by the same schema, as the project's CDK context;
 * see infra/app.ts for what each means) and what may already exist in the app that adds the service.
 */
export interface VeoServerlessProps extends SettingsInput {
  /**
   * Store videos in this bucket (under `videos/`) instead of creating one. Its owner then sets its
   * lifecycle: expire `videos/` after `retentionDays`, abort incomplete multipart uploads.
   */
  videoBucket?: IBucket;
  /** Use these tables instead of creating them; each must have its layout (functions/adapters/dynamodb/tables.ts). */
  tables?: { [T in TableName]?: ITableV2 };
  /** @default the stack's name */
  dashboardName?: string;
  /** The HTTP API stage's throttle. @default burst 100, 50 requests per second */
  throttle?: ThrottleSettings;
}

/**
 * The whole service as one construct: storage and queues (stateful), one function per entry of
 * functions/manifest.ts with exactly its grants, the HTTP API, alarms and a dashboard. The project's own
 * app (infra/app.ts) uses it like any other CDK app would:
 *
 *   new VeoServerless(this, 'Veo', { provider: 'kie', providerSecretArn: '…', videoBucket: myBucket });
 */
export class VeoServerless extends Construct {
  readonly settings: StackSettings;
  readonly storage: Storage;
  readonly queues: Queues;
  readonly functions: Record<FunctionName, VeoFunction>;
  readonly api: Api;
  /** The API's base URL (add /api/v1/...). */
  readonly url: string;
  /** The table `npm run keys -- --table NAME` mints API keys into. */
  readonly apiKeysTable: ITableV2;
  /** The bus task events go to (context `eventBusName`, the account's default bus unless named); absent when `off`. */
  readonly eventBus?: IEventBus;

  /**
   * Lets `grantee` call the IAM routes (`iamUrl`), each route by its exact ARN; map its ARN to a key with
   * the `iamPrincipals` setting.
   */
  grantInvoke(grantee: IGrantable): Grant {
    return grantIamInvoke(this.api, grantee);
  }

  /** Base URL of the AWS_IAM routes: `${iamUrl}/veo/generate`, signed with SigV4 (service execute-api). */
  get iamUrl(): string {
    return this.api.iamUrl;
  }

  /**
   * The event pattern of this service's task events, e.g. for a rule:
   * `new Rule(this, 'Done', { eventBus: veo.eventBus, eventPattern: VeoServerless.taskEvents({ detailType: ['Veo Task Succeeded'] }) })`.
   */
  static taskEvents({ detailType }: { detailType?: TaskEventDetailType[] } = {}): EventPattern {
    return { source: [eventSource], ...(detailType && { detailType }) };
  }

  constructor(scope: Construct, id: string, props: VeoServerlessProps) {
    super(scope, id);
    const settings = parseSettings((key) => props[key], 'VeoServerless prop');
    this.settings = settings;
    const stack = Stack.of(this);

    // Imported by ARN, the secret and the layer must live in this stack's region: Lambda attaches only
    // same-region layers, and the functions' Secrets Manager client asks this region.
    for (const [key, arn] of [
      ['providerSecretArn', settings.providerSecretArn],
      ['ffmpegLayerArn', settings.ffmpegLayerArn],
      ...(settings.upstreams ?? []).map(
        (upstream, index) => [`upstreams[${index}].secretArn`, upstream.secretArn] as const,
      ),
    ] as const) {
      const arnRegion = arn?.split(':')[3];
      if (arnRegion && !Token.isUnresolved(stack.region) && arnRegion !== stack.region) {
        throw new Error(`"${key}" is in ${arnRegion}, but the stack deploys to ${stack.region}`);
      }
    }

    this.storage = new Storage(this, 'Storage', {
      retentionDays: settings.retentionDays,
      videoBucket: props.videoBucket,
      tables: props.tables,
    });
    this.queues = new Queues(this, 'Queues');
    this.apiKeysTable = this.storage.tables.apiKeys;

    // Each resource's variable, as the manifest names it, then the settings': functions/config.ts
    // requires all of it at cold start.
    const resourceEnvironment = {
      ...Object.fromEntries(
        (Object.keys(tables) as TableName[]).map((name) => [
          tables[name].env,
          this.storage.tables[name].tableName,
        ]),
      ),
      ...Object.fromEntries(
        (Object.keys(queues) as QueueName[]).map((name) => [
          queues[name].env,
          this.queues.queues[name].queueUrl,
        ]),
      ),
      // Read only by the sweeper, the one function granted to drain them.
      ...Object.fromEntries(
        (Object.keys(queues) as QueueName[]).map((name) => [
          queues[name].dlqEnv,
          this.queues.deadLetterQueues[name].queueUrl,
        ]),
      ),
      [videoBucket.env]: this.storage.videos.bucketName,
      // Each step's time budget ends inside its function's timeout (and a submit's lease is the worker's).
      WORKER_TIMEOUT_SECONDS: String(manifestFunctions.worker.timeoutSeconds),
      POLLER_TIMEOUT_SECONDS: String(manifestFunctions.poller.timeoutSeconds),
    } satisfies Partial<Record<keyof Config, string>>;

    const busName = settings.eventBusName ?? 'default';
    this.eventBus = busName === 'off' ? undefined : EventBus.fromEventBusName(this, 'EventBus', busName);

    const functions = new Functions(this, 'Functions', {
      targets: {
        tables: this.storage.tables,
        queues: this.queues.queues,
        deadLetterQueues: this.queues.deadLetterQueues,
        videos: this.storage.videos,
        // A pool reads each upstream's own secret instead of the provider secret.
        providerSecret:
          settings.providerSecretArn && !settings.upstreams
            ? importSecret(this, 'ProviderSecret', settings.providerSecretArn)
            : undefined,
        upstreamSecrets: (settings.upstreams ?? []).flatMap((upstream) =>
          upstream.secretArn
            ? [importSecret(this, `UpstreamSecret-${upstream.name}`, upstream.secretArn)]
            : [],
        ),
        translate: settings.translation === 'amazon',
        eventBus: this.eventBus,
      },
      environment: {
        config: { ...resourceEnvironment, ...settingsEnvironment(settings) },
        videoBucketOnly: {
          [videoBucket.env]: this.storage.videos.bucketName,
          // The origin of its presigned URLs, for the site's CSP: the partition's suffix (amazonaws.com.cn
          // in China) from CloudFormation, so the site needs no partition table of its own.
          [videoBucket.originEnv]: videoOrigin(
            { bucket: this.storage.videos.bucketName, region: Stack.of(this).region },
            Stack.of(this).urlSuffix,
          ),
        },
      },
      ffmpeg: settings.ffmpegLayerArn ? importLayer(this, settings.ffmpegLayerArn) : undefined,
      apiReservedConcurrency: settings.apiReservedConcurrency,
      tracing: settings.tracing,
    });
    this.functions = functions.byName;

    this.api = new Api(this, 'Api', { functions: this.functions, throttle: props.throttle });
    this.url = this.api.url;
    // Only the functions that hand the upstream our push address get it. Added once the API exists:
    // they depend on the API, never the other way round, so there is no cycle.
    for (const [name, spec] of functionEntries) {
      if (spec.uses.upstreamCallbackUrl) {
        this.functions[name].addEnvironment(
          'UPSTREAM_CALLBACK_URL' satisfies keyof Config,
          this.api.upstreamCallbackUrl,
        );
      }
    }

    new Alarms(this, 'Alarms', {
      queues: this.queues.queues,
      deadLetterQueues: this.queues.deadLetterQueues,
      functions: this.functions,
      httpApi: this.api.httpApi,
      dashboardName: props.dashboardName ?? stack.stackName,
      upstreams: (settings.upstreams ?? [{ name: settings.provider }]).map((upstream) => upstream.name),
      circuitAlarms: settings.upstreams !== undefined,
    });
  }
}

/**
 * A complete ARN (ending in the random `-XXXXXX` suffix, as `aws secretsmanager create-secret` prints it)
 * is granted exactly; a partial one (the name without the suffix) as `NAME-??????`. The same test as CDK's.
 */
function importSecret(scope: Construct, id: string, arn: string): ISecret {
  return /-[a-z0-9]{6}$/i.test(arn)
    ? Secret.fromSecretCompleteArn(scope, id, arn)
    : Secret.fromSecretPartialArn(scope, id, arn);
}

function importLayer(scope: Construct, arn: string): ILayerVersion {
  return LayerVersion.fromLayerVersionArn(scope, 'FfmpegLayer', arn);
}
