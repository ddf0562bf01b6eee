import { Duration } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import type { QueueName, Queues } from './queues';
import type { Storage } from './storage';
import { VeoFunction } from './veo-function';

type FunctionName = 'api' | 'upstreamCallback' | 'worker' | 'poller' | 'notifier';

interface FunctionSpec {
  entry: string;
  description: string;
  timeout: Duration;
  memorySize?: number;
  /** The queue this function drains, for the SQS consumers. */
  consumes?: QueueName;
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

export interface FunctionsProps {
  storage: Storage;
  queues: Queues;
  /** The one environment every function gets. */
  environment: Record<string, string>;
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
    const { storage, queues, environment } = props;
    const make = (name: FunctionName, constructId: string): VeoFunction => {
      const { consumes, ...spec }: FunctionSpec = functionSpecs[name];
      const fn = new VeoFunction(this, constructId, { ...spec, environment });
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
    this.worker = make('worker', 'Worker');
    this.poller = make('poller', 'Poller');
    this.notifier = make('notifier', 'Notifier');

    // Least privilege, following what each entry point's use cases call (functions/core).
    // Videos live under videos/, the only prefix anyone may read or write.
    const videos = 'videos/*';

    // Submit charges credits in the same transaction as the task write (and refunds when queueing fails);
    // record-info presigns the result URLs.
    storage.tasks.grantReadWriteData(this.api);
    storage.apiKeys.grantReadWriteData(this.api);
    queues.generate.grantSendMessages(this.api);
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

    // Records every attempt on the task, signs with the key's webhook secret, presigns the result URLs.
    storage.tasks.grantReadWriteData(this.notifier);
    storage.apiKeys.grantReadData(this.notifier);
    storage.videos.grantRead(this.notifier, videos);
  }
}
