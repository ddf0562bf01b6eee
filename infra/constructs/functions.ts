import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CfnElement, Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type ILayerVersion, LayerVersion } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { DEFAULT_FONT_FILE } from '../../functions/adapters/media/ffmpeg-watermarker';
import type { QueueName, Queues } from './queues';
import type { Storage } from './storage';
import { type BundledFile, repoRoot, VeoFunction } from './veo-function';

type FunctionName = 'api' | 'upstreamCallback' | 'worker' | 'poller' | 'notifier';

interface FunctionSpec {
  entry: string;
  description: string;
  timeout: Duration;
  memorySize?: number;
  /** The queue this function drains, for the SQS consumers. */
  consumes?: QueueName;
  /** Installed beside the bundle instead of bundled (see VeoFunctionProps). */
  nodeModules?: readonly string[];
}

/** The five entry points of SPEC §1. Each consumer's queue derives its visibility timeout from it. */
export const functionSpecs = {
  api: {
    entry: 'functions/api.ts',
    description: 'kie.ai-compatible REST API: validates, authenticates, writes tasks',
    timeout: Duration.seconds(10),
  },
  upstreamCallback: {
    entry: 'functions/upstream-callback.ts',
    description: "Receives the upstream provider's push and schedules an immediate poll",
    timeout: Duration.seconds(10),
  },
  worker: {
    entry: 'functions/worker.ts',
    description: 'Submits queued tasks to the upstream provider',
    timeout: Duration.seconds(60),
    consumes: 'generate',
    // sharp decodes the input images (the Auto crop): native code, installed for linux-arm64.
    nodeModules: ['sharp'],
  },
  poller: {
    entry: 'functions/poller.ts',
    description: 'Polls upstream operations and streams finished videos into S3',
    timeout: Duration.seconds(300),
    // Streaming a video through is network-bound; more memory also buys more network and CPU.
    memorySize: 512,
    consumes: 'poll',
  },
  notifier: {
    entry: 'functions/notifier.ts',
    description: "POSTs signed callbacks to clients' callBackUrl",
    timeout: Duration.seconds(60),
    consumes: 'notify',
  },
} as const satisfies Record<FunctionName, FunctionSpec>;

/** The timeout of each queue's consumer, for the queues' visibility timeouts. */
export const consumerTimeouts: Record<QueueName, Duration> = {
  generate: functionSpecs.worker.timeout,
  poll: functionSpecs.poller.timeout,
  notify: functionSpecs.notifier.timeout,
};

/**
 * The watermark font and its licence, at the place DEFAULT_FONT_FILE points to relative to its module.
 * That is `new URL('./assets/…', import.meta.url)`; bundled, `import.meta.url` is index.mjs, so the
 * font goes to `assets/` beside it. Only the poller builds the watermarker, which refuses to start
 * without its font; the worker uses ffmpeg only for the Auto crop.
 */
const watermarkFont: BundledFile[] = (() => {
  const moduleDir = fileURLToPath(new URL('../../functions/adapters/media/', import.meta.url));
  const target = relative(moduleDir, DEFAULT_FONT_FILE);
  const source = relative(repoRoot, DEFAULT_FONT_FILE);
  const licence = (path: string) => path.replace(/\.ttf$/, '.LICENSE.txt');
  return [
    { source, target },
    { source: licence(source), target: licence(target) },
  ];
})();

/** How the functions reach the upstream provider and what they need beside it. */
export interface UpstreamAccess {
  /** The provider's credentials (absent for the simulator). */
  providerSecretArn?: string;
  /** Amazon Translate turns prompts into English before the worker submits them. */
  translate: boolean;
  /** A layer with ffmpeg at /opt/bin/ffmpeg, for Auto crop (worker) and watermarks (poller). */
  ffmpegLayerArn?: string;
}

export interface FunctionsProps {
  storage: Storage;
  queues: Queues;
  /** The one environment every function gets. */
  environment: Record<string, string>;
  upstream: UpstreamAccess;
}

/** The stateless part: the five functions, what each may touch, and the queues they drain. */
export class Functions extends Construct {
  readonly api: VeoFunction;
  readonly upstreamCallback: VeoFunction;
  readonly worker: VeoFunction;
  readonly poller: VeoFunction;
  readonly notifier: VeoFunction;

  constructor(scope: Construct, id: string, props: FunctionsProps) {
    super(scope, id);
    const { storage, queues, environment, upstream } = props;
    const ffmpeg: ILayerVersion | undefined = upstream.ffmpegLayerArn
      ? LayerVersion.fromLayerVersionArn(this, 'FfmpegLayer', upstream.ffmpegLayerArn)
      : undefined;
    const make = (name: FunctionName, constructId: string, extra: ExtraProps = {}): VeoFunction => {
      const { consumes, ...spec }: FunctionSpec = functionSpecs[name];
      const fn = new VeoFunction(this, constructId, { ...spec, ...extra, environment });
      if (consumes) {
        // Consuming (receive, delete, change visibility) is granted by the event source, on its queue only.
        fn.addEventSource(
          new SqsEventSource(queues[consumes], { batchSize: 10, reportBatchItemFailures: true }),
        );
      }
      return fn;
    };
    this.api = make('api', 'Api');
    this.upstreamCallback = make('upstreamCallback', 'UpstreamCallback');
    this.worker = make('worker', 'Worker', ffmpeg && { layers: [ffmpeg] });
    this.poller = make('poller', 'Poller', {
      bundledFiles: watermarkFont,
      // ffmpeg re-encodes on the CPU, and Lambda's CPU grows with memory; the original and the
      // stamped copy both sit in /tmp while it runs.
      ...(ffmpeg && {
        layers: [ffmpeg],
        memorySize: 2048,
        ephemeralStorageSize: Size.mebibytes(2048),
      }),
    });
    this.notifier = make('notifier', 'Notifier');

    // Least privilege, following what each entry point's use cases call (functions/core).
    // Videos live under videos/, the only prefix anyone may read or write.
    const videos = 'videos/*';

    // Submit charges credits in the same transaction as the task write (and refunds when queueing fails);
    // record-info presigns the result URLs.
    storage.tasks.grantReadWriteData(this.api);
    storage.apiKeys.grantReadWriteData(this.api);
    // Per-key rate limits and Idempotency-Key records live in the counters table.
    storage.counters.grantReadWriteData(this.api);
    queues.generate.grantSendMessages(this.api);
    // 1080p and 4K requests queue their rendition job for the poller.
    queues.poll.grantSendMessages(this.api);
    // A cancelled task with a callBackUrl is called back like any other ended task.
    queues.notify.grantSendMessages(this.api);
    storage.videos.grantRead(this.api, videos);

    // Only a hint to poll now: reads the task, enqueues a poll.
    storage.tasks.grantReadData(this.upstreamCallback);
    queues.poll.grantSendMessages(this.upstreamCallback);

    // An upstream that refuses the submit ends the task: refund (api-keys) and callback (notify).
    // Submits pass the upstream's quota gate, a counter shared by every worker instance.
    storage.tasks.grantReadWriteData(this.worker);
    storage.counters.grantReadWriteData(this.worker);
    storage.apiKeys.grantReadWriteData(this.worker);
    queues.poll.grantSendMessages(this.worker);
    queues.notify.grantSendMessages(this.worker);

    // Completes or fails tasks: stores videos (multipart uploads), refunds failures, polls again, notifies.
    storage.tasks.grantReadWriteData(this.poller);
    storage.apiKeys.grantReadWriteData(this.poller);
    storage.videos.grantPut(this.poller, videos);
    queues.poll.grantSendMessages(this.poller);
    queues.notify.grantSendMessages(this.poller);

    // Records every attempt on the task, signs with the key's webhook secret, presigns the result URLs;
    // a callback that was not taken is retried by a delayed message on its own queue.
    storage.tasks.grantReadWriteData(this.notifier);
    storage.apiKeys.grantReadData(this.notifier);
    storage.videos.grantRead(this.notifier, videos);
    queues.notify.grantSendMessages(this.notifier);

    // The provider's credentials are read on first use, so only the functions that call it get them:
    // the worker submits, the poller polls and downloads, the upstream callback verifies kie's signature.
    if (upstream.providerSecretArn) {
      const secret = importSecret(this, upstream.providerSecretArn);
      for (const fn of [this.worker, this.poller, this.upstreamCallback]) secret.grantRead(fn);
    }

    // cdk-nag IAM5: the wildcards CDK's grants write, each narrower than it looks.
    const arn = (c: Construct) => `<${Stack.of(c).getLogicalId(c.node.defaultChild as CfnElement)}.Arn>`;
    const acknowledge = (fns: VeoFunction[], finding: string, reason: string) => {
      for (const fn of fns) Validations.of(fn).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
    };
    const all = [this.api, this.upstreamCallback, this.worker, this.poller, this.notifier];
    acknowledge(
      all,
      `Resource::${arn(storage.tasks)}/index/*`,
      "The tasks table's own indexes (list by key and time), granted with the table",
    );
    acknowledge(
      [this.api, this.poller, this.notifier],
      `Resource::${arn(storage.videos)}/videos/*`,
      'Object keys are task ids, unknown in advance; the prefix is the narrowest fixed scope',
    );
    for (const action of ['s3:GetBucket*', 's3:GetObject*', 's3:List*']) {
      acknowledge(
        [this.api, this.notifier],
        `Action::${action}`,
        'grantRead: read-only actions on the video bucket and videos/ only (presigned result URLs)',
      );
    }
    acknowledge(
      [this.poller],
      'Action::s3:Abort*',
      'grantPut: aborting its own multipart uploads of videos/ objects',
    );

    if (upstream.translate) {
      acknowledge(
        [this.worker],
        'Resource::*',
        'translate:TranslateText without terminology and comprehend:DetectDominantLanguage have no resource type',
      );
      // The worker translates prompts before submitting them (source language "auto", which makes
      // Translate call Comprehend as the worker). "*" is unavoidable: TranslateText names a resource only
      // when a custom terminology or parallel data is used (we use neither), and DetectDominantLanguage
      // has no resource type at all (IAM Service Authorization Reference).
      this.worker.addToRolePolicy(
        new PolicyStatement({
          effect: Effect.ALLOW,
          actions: ['translate:TranslateText', 'comprehend:DetectDominantLanguage'],
          resources: ['*'],
        }),
      );
    }
  }
}

type ExtraProps = Pick<
  ConstructorParameters<typeof VeoFunction>[2],
  'bundledFiles' | 'layers' | 'memorySize' | 'ephemeralStorageSize'
>;

/**
 * A complete ARN (ending in the random `-XXXXXX` suffix, as `aws secretsmanager create-secret` prints it)
 * is granted exactly; a partial one (the name without the suffix) as `NAME-??????`. The same test as CDK's.
 */
function importSecret(scope: Construct, arn: string): ISecret {
  return /-[a-z0-9]{6}$/i.test(arn)
    ? Secret.fromSecretCompleteArn(scope, 'ProviderSecret', arn)
    : Secret.fromSecretPartialArn(scope, 'ProviderSecret', arn);
}
