import { apiKeyTable, counterTable, type TableLayout, taskTable } from './adapters/dynamodb/tables';
import { siteRouteKeys } from './site/static-site';

/**
 * One entry per function: everything about it that is not its code. Data only (no CDK, no SDK), so that
 * infra/ (functions, event sources, routes, queue timeouts, least-privilege grants, environment) and
 * local/ (the gateway's routes, the event sources, which module to import) derive from the same facts,
 * and test/infra checks each function's composition against what its entry grants.
 *
 * Adding a function: an entry here, its handler (`entry`) and its composition; nothing else.
 */

/** Where an upstream (kie.ai) pushes its results: the one place this path is spelled. */
export const UPSTREAM_CALLBACK_PATH = '/internal/upstream-callback';

/** The tables, each with the environment variable that names it and its key layout. */
export const tables = {
  tasks: { env: 'TASKS_TABLE', layout: taskTable },
  apiKeys: { env: 'API_KEYS_TABLE', layout: apiKeyTable },
  counters: { env: 'COUNTERS_TABLE', layout: counterTable },
} as const satisfies Record<string, { env: string; layout: TableLayout }>;
export type TableName = keyof typeof tables;

/** The work queues, each with the environment variables holding its URL and its dead-letter queue's. */
export const queues = {
  generate: { env: 'GENERATE_QUEUE_URL', dlqEnv: 'GENERATE_DLQ_URL' },
  // A task holding a reserved slot of the upstream's quota, delivered shortly before it (core/stages/generate.ts).
  reserved: { env: 'RESERVED_QUEUE_URL', dlqEnv: 'RESERVED_DLQ_URL' },
  poll: { env: 'POLL_QUEUE_URL', dlqEnv: 'POLL_DLQ_URL' },
  notify: { env: 'NOTIFY_QUEUE_URL', dlqEnv: 'NOTIFY_DLQ_URL' },
} as const satisfies Record<string, { env: string; dlqEnv: string }>;
export type QueueName = keyof typeof queues;

/** The video bucket; every object the functions touch lives under `prefix`. */
export const videoBucket = { env: 'VIDEO_BUCKET', originEnv: 'VIDEO_ORIGIN', prefix: 'videos/' } as const;

/**
 * DynamoDB actions as IAM names them. A transaction needs no action of its own: each of its items is
 * authorized as the PutItem, UpdateItem, DeleteItem or ConditionCheckItem it is (DynamoDB developer guide,
 * "Using IAM with DynamoDB transactions").
 */
export type TableAction =
  | 'GetItem'
  | 'BatchGetItem'
  | 'Query'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'ConditionCheckItem'
  | 'Scan'
  | 'BatchWriteItem';

export interface TableAccess {
  /** Actions on the table itself (its items). */
  actions: readonly TableAction[];
  /** Indexes this function queries (dynamodb:Query on `<table>/index/<name>` only). */
  queries?: readonly string[];
}

/** Files a function finds beside its bundle (through `import.meta.url`); infra/ knows how to put each there. */
export type BundledAsset = 'watermarkFont' | 'sitePages';

/** What a function may touch. infra/ turns each entry into exactly these grants, nothing more. */
export interface Uses {
  tables?: { readonly [T in TableName]?: TableAccess };
  /** Queues it sends to (consuming its own queue is granted by its event source). */
  sends?: readonly QueueName[];
  /** Dead-letter queues it drains (receive and delete), by their work queue. */
  drains?: readonly QueueName[];
  /** read: GetObject (downloads and presigned URLs); put: PutObject and multipart uploads; name: only knows it. */
  videos?: readonly ('name' | 'read' | 'put')[];
  /** Reads the provider's credentials from Secrets Manager (when the deployment has a secret). */
  providerSecret?: boolean;
  /** Amazon Translate (and Comprehend, which Translate's source language "auto" calls as the caller). */
  translate?: boolean;
  /** The ffmpeg layer, when the deployment has one. */
  ffmpeg?: boolean;
  /** events:PutEvents on the deployment's event bus (context `eventBusName`, default bus by default). */
  events?: boolean;
  /** states:SendTaskSuccess and SendTaskFailure (Step Functions' callback pattern). */
  taskTokens?: boolean;
  /**
   * Our upstream-callback URL (UPSTREAM_CALLBACK_URL): handed to the upstream with each submit, and the
   * audience Vertex AI's push tokens name.
   */
  upstreamCallbackUrl?: boolean;
  bundledFiles?: readonly BundledAsset[];
}

/** An SQS event source mapping: the queue a function drains, and how. */
export interface QueueTrigger {
  queue: QueueName;
  /** Records per invocation (Lambda's SQS maximum without a batching window is 10). */
  batchSize: number;
  /** Concurrent invocations this queue may drive (SQS event source MaximumConcurrency, 2-1000). */
  maxConcurrency: number;
}

export type Trigger =
  | { http: readonly string[] }
  | { queues: readonly QueueTrigger[] }
  | {
      /** An EventBridge schedule expression, e.g. `rate(5 minutes)`. */
      schedule: string;
      /** The local runtime's interval instead (seconds; SWEEP_INTERVAL_SECONDS overrides it locally). */
      localEverySeconds: number;
    };

export interface FunctionManifest {
  /** The handler module, relative to the repository root; it exports `handler`. */
  entry: string;
  /** The module that builds its dependencies (functions/composition), whose keys test/infra compares with `uses`. */
  composition?: string;
  description: string;
  trigger: Trigger;
  timeoutSeconds: number;
  memoryMb: number;
  /** Memory and /tmp when the ffmpeg layer is attached (re-encoding needs CPU, which grows with memory). */
  withFfmpeg?: { memoryMb: number; ephemeralStorageMb: number };
  /**
   * config: the whole environment functions/config.ts validates at cold start (every table, queue and the
   * bucket, and the deployment's settings); uses: only the variables of what `uses` names.
   */
  environment: 'config' | 'uses';
  uses: Uses;
  /**
   * Packages with native code left out of index.mjs and installed beside it for Lambda's platform
   * (linux arm64, glibc), whatever machine synthesizes.
   */
  nodeModules?: readonly string[];
}

export const functions = {
  api: {
    entry: 'functions/api.ts',
    composition: 'functions/composition/api.ts',
    description: 'kie.ai-compatible REST API: validates, authenticates, writes tasks',
    // The $default route: the api routes by itself and answers unknown paths with the 404 envelope.
    trigger: { http: ['$default'] },
    timeoutSeconds: 10,
    memoryMb: 256,
    environment: 'config',
    uses: {
      tables: {
        // get/record-info/cancel; createCharged (Put, in a transaction); cancel and 1080p/4K starts (Update).
        tasks: { actions: ['GetItem', 'PutItem', 'UpdateItem'], queries: ['byKey'] },
        // authenticate (Get); charges and refunds inside the task transactions (Update).
        apiKeys: { actions: ['GetItem', 'UpdateItem'] },
        // Idempotency-Key records and rate-window slots: read the counter, put it conditionally.
        counters: { actions: ['GetItem', 'PutItem'] },
      },
      // generate: new tasks; poll: 1080p/4K jobs; notify: a cancelled task's callback.
      sends: ['generate', 'poll', 'notify'],
      videos: ['read'],
    },
  },
  upstreamCallback: {
    entry: 'functions/upstream-callback.ts',
    composition: 'functions/composition/upstream-callback.ts',
    description: "Receives the upstream provider's push and schedules an immediate poll",
    trigger: { http: [`POST ${UPSTREAM_CALLBACK_PATH}`] },
    timeoutSeconds: 10,
    memoryMb: 256,
    environment: 'config',
    uses: {
      // Only a hint to poll now: verifies the push's signature, enqueues a poll (no table).
      tables: {},
      sends: ['poll'],
      providerSecret: true,
      // Vertex AI's push tokens name it as their audience by default.
      upstreamCallbackUrl: true,
    },
  },
  worker: {
    entry: 'functions/worker.ts',
    composition: 'functions/composition/worker.ts',
    description: 'Submits queued tasks to the upstream provider',
    trigger: {
      queues: [
        // New tasks: more at once would slow the first window's submits past their slots (upstream 429s).
        { queue: 'generate', batchSize: 10, maxConcurrency: 5 },
        // A window's reservations come due within a second or two, and each invocation holds its records
        // until their slots: sharing the generate queue's 5, a window's last ones waited for a free
        // invocation past their slots (a window lost). Holding is only waiting, so these may be many.
        { queue: 'reserved', batchSize: 10, maxConcurrency: 20 },
      ],
    },
    timeoutSeconds: 60,
    memoryMb: 256,
    environment: 'config',
    // sharp decodes the input images (the Auto crop): native code, installed for linux-arm64.
    nodeModules: ['sharp'],
    uses: {
      tables: {
        tasks: { actions: ['GetItem', 'UpdateItem'] },
        // A refund travels in the same transaction as the task's failure.
        apiKeys: { actions: ['UpdateItem'] },
        // The upstream quota's slot, taken in the transaction that records the submit.
        counters: { actions: ['GetItem', 'PutItem'] },
      },
      // generate: a submit postponed (upstream busy); reserved: a submit waiting for its quota slot; poll: the
      // first poll; notify: a failure (and an event the bus refused).
      sends: ['generate', 'reserved', 'poll', 'notify'],
      // The video an extension continues.
      videos: ['read'],
      providerSecret: true,
      translate: true,
      ffmpeg: true,
      upstreamCallbackUrl: true,
      // A task's queued and submitted events, published at once.
      events: true,
    },
  },
  poller: {
    entry: 'functions/poller.ts',
    composition: 'functions/composition/poller.ts',
    description: 'Polls upstream operations and streams finished videos into S3',
    trigger: { queues: [{ queue: 'poll', batchSize: 10, maxConcurrency: 10 }] },
    timeoutSeconds: 300,
    // Streaming a video through is network-bound; more memory also buys more network and CPU.
    memoryMb: 512,
    // ffmpeg re-encodes on the CPU; the original and the stamped copy both sit in /tmp while it runs.
    withFfmpeg: { memoryMb: 2048, ephemeralStorageMb: 2048 },
    environment: 'config',
    uses: {
      tables: {
        tasks: { actions: ['GetItem', 'UpdateItem'] },
        apiKeys: { actions: ['UpdateItem'] },
        // A pool's circuits (core/circuit.ts): a poll's unavailability counts toward opening one.
        counters: { actions: ['GetItem', 'PutItem'] },
      },
      sends: ['poll', 'notify'],
      // put: stores videos; read: the original a watermark or a 1080p/4K rendition is made from.
      videos: ['read', 'put'],
      providerSecret: true,
      ffmpeg: true,
      bundledFiles: ['watermarkFont'],
    },
  },
  notifier: {
    entry: 'functions/notifier.ts',
    composition: 'functions/composition/notifier.ts',
    description: "POSTs signed callbacks to clients' callBackUrl",
    trigger: { queues: [{ queue: 'notify', batchSize: 10, maxConcurrency: 5 }] },
    timeoutSeconds: 60,
    memoryMb: 256,
    environment: 'config',
    uses: {
      tables: {
        // A retry reads the task and its owner's key in one BatchGetItem (an end's first delivery carries the
        // task, and its key is cached: GetItem on a miss); every attempt is recorded on the task.
        tasks: { actions: ['GetItem', 'BatchGetItem', 'UpdateItem'] },
        apiKeys: { actions: ['GetItem', 'BatchGetItem'] },
      },
      // A callback that was not taken is retried by a delayed message on its own queue.
      sends: ['notify'],
      // Signs the result URLs (presigned GETs act with the signer's permission).
      videos: ['read'],
      // Each task change as an event; a task's end answers its Step Functions task token.
      events: true,
      taskTokens: true,
    },
  },
  sweeper: {
    entry: 'functions/sweeper.ts',
    composition: 'functions/composition/sweeper.ts',
    description:
      'Ends tasks and renditions left open past their deadline, and those dead letters name; polls a task whose push did not come',
    // Every minute: a push not heard is polled within a minute of its check (Settings.pushCheckSeconds).
    trigger: { schedule: 'rate(1 minute)', localEverySeconds: 2 },
    timeoutSeconds: 120,
    memoryMb: 256,
    environment: 'config',
    uses: {
      tables: {
        // Reads each overdue task; ends it (Update) or moves its place on the sweep index.
        tasks: { actions: ['GetItem', 'UpdateItem'], queries: ['bySweepAt'] },
        // The refund travels in the same transaction as the task's failure.
        apiKeys: { actions: ['UpdateItem'] },
      },
      // The client's callback of each task it ends; the first poll of a task whose push did not come.
      sends: ['notify', 'poll'],
      drains: ['generate', 'reserved', 'poll', 'notify'],
    },
  },
  site: {
    entry: 'functions/site.ts',
    description: 'Playground and API reference pages (static files, CSP to our origin)',
    trigger: { http: siteRouteKeys },
    timeoutSeconds: 10,
    memoryMb: 256,
    environment: 'uses',
    // Touches nothing: the pages' CSP names the bucket's origin, the pages call only the API.
    uses: { videos: ['name'], bundledFiles: ['sitePages'] },
  },
} as const satisfies Record<string, FunctionManifest>;

export type FunctionName = keyof typeof functions;

/** The manifest's entries, typed as the general shape (the literal types above are for the names). */
export const functionEntries = Object.entries(functions) as [FunctionName, FunctionManifest][];

/** The function that drains each queue. */
export function consumerOf(queue: QueueName): FunctionName {
  const found = functionEntries.find(
    ([, fn]) => 'queues' in fn.trigger && fn.trigger.queues.some((trigger) => trigger.queue === queue),
  );
  if (!found) throw new Error(`No function consumes the ${queue} queue`);
  return found[0];
}

/** What a port of the core's `Deps` (the keys a composition returns) needs granted, in `Uses` terms. */
export type Grantable =
  | TableName
  | 'queues'
  | 'deadLetters'
  | 'videos'
  | 'providerSecret'
  | 'translate'
  | 'ffmpeg'
  | 'events'
  | 'taskTokens';

/**
 * Each Deps key and what it touches. `needs`: granted wherever the key is composed; `reaches`: may be
 * granted beside it (the task store's transactions move credits on API keys and take counter slots).
 * A key missing here fails test/infra until it is added: a new port is a decision about grants.
 */
export const portGrants: Record<string, { needs: readonly Grantable[]; reaches?: readonly Grantable[] }> = {
  tasks: { needs: ['tasks'], reaches: ['apiKeys', 'counters'] },
  apiKeys: { needs: ['apiKeys'] },
  // The QuotaGate's counters (being folded into the task store's rate windows).
  quota: { needs: ['counters'] },
  queues: { needs: ['queues'] },
  deadLetters: { needs: ['deadLetters'] },
  videos: { needs: ['videos'] },
  // The upstream's credentials live in the provider secret (local: environment variables).
  provider: { needs: ['providerSecret'] },
  // The pool's providers (issue 16): each upstream's own secret, granted with the provider secret.
  upstreamProviders: { needs: ['providerSecret'] },
  // The upstreams' circuits live in the counters table (adapters/dynamodb/circuit-store.ts).
  circuits: { needs: ['counters'] },
  translator: { needs: ['translate'] },
  cropper: { needs: ['ffmpeg'] },
  watermarker: { needs: ['ffmpeg'] },
  upscaler: { needs: ['ffmpeg'] },
  // Outbound HTTPS only (clients' callback URLs, image URLs): nothing to grant.
  callbacks: { needs: [] },
  events: { needs: ['events'] },
  taskTokens: { needs: ['taskTokens'] },
  images: { needs: [] },
  settings: { needs: [] },
  log: { needs: [] },
  metrics: { needs: [] },
  now: { needs: [] },
};

/** What a manifest entry grants, in the same terms as `portGrants`. */
export function grantedBy(uses: Uses): Set<Grantable> {
  const granted = new Set<Grantable>(Object.keys(uses.tables ?? {}) as TableName[]);
  if (uses.sends?.length) granted.add('queues');
  if (uses.drains?.length) granted.add('deadLetters');
  if (uses.videos?.some((level) => level !== 'name')) granted.add('videos');
  if (uses.providerSecret) granted.add('providerSecret');
  if (uses.translate) granted.add('translate');
  if (uses.ffmpeg) granted.add('ffmpeg');
  if (uses.events) granted.add('events');
  if (uses.taskTokens) granted.add('taskTokens');
  return granted;
}

/** `upstreamCallback` → `upstream-callback`: the function's name in logs and the local Lambda context. */
export const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
