import type { CircuitRule } from './circuit';
import type { UpstreamSpec } from './pool';
import type {
  ApiKeyStore,
  CallbackSender,
  CircuitStore,
  DeadLetterQueues,
  EventPublisher,
  ImageCropper,
  ImageFetcher,
  Log,
  Metrics,
  TaskQueues,
  TaskStore,
  TaskTokens,
  Translator,
  VideoProvider,
  VideoStore,
  VideoUpscaler,
  VideoWatermarker,
} from './ports';
import type { PricedModel, PriceOverrides } from './pricing';
import type { RateLimit, RateWindow } from './rate-window';
import type { UrlPolicy } from './url-guard';

/** Settings the core's decisions depend on (prices, budgets, retention), resolved from config. */
export interface Settings {
  /** Credits for an 8-second 720p task of each model: the pricing table's scale (core/pricing.ts). */
  prices: Record<PricedModel, number>;
  /** Per-second prices that override the default table's cells (PRICE_TABLE). */
  priceTable?: PriceOverrides;
  retentionDays: number;
  budgetSeconds: number;
  /** A rendition still processing this long after its request is ended by the sweeper (failed, refunded). */
  renditionBudgetSeconds: number;
  /**
   * How long past a deadline the sweeper waits before ending what is still open: at least the poller's
   * timeout, so an invocation that started before the deadline finishes first.
   */
  sweepGraceSeconds: number;
  /** The worker's and the poller's Lambda timeouts (functions/manifest.ts): every step must end within them. */
  workerTimeoutSeconds: number;
  pollerTimeoutSeconds: number;
  /** First delay between two polls; later ones are a quarter of the time run so far, up to three times it. */
  pollIntervalSeconds: number;
  urlPolicy: UrlPolicy;
  /**
   * Watermarks and the 1080p / 4K renditions need ffmpeg where the poller runs; without it they are
   * refused up front (505, feature disabled) and nothing is charged.
   */
  ffmpegAvailable: boolean;
  /** Credits a 4K rendition costs (kie.ai: about twice a Fast generation); 1080p is free. */
  price4k: number;
  /** Our address for upstream pushes (kie.ai's callBackUrl); the taskId is added as a query parameter. */
  pushUrl?: string;
  /**
   * How long after its submit a task whose upstream pushes waits for the push before the sweeper starts
   * polling it (a push lost or refused); polls would only repeat what the push says.
   */
  pushCheckSeconds: number;
  /** Seconds to wait before each retry of a client callback; its length is the number of retries. */
  callbackRetrySeconds: number[];
  /** New tasks per window for a key without its own `rateLimit` (RATE_LIMIT); none when `off`. */
  rateLimit?: RateLimit;
  /** The configured provider's name, as recorded on tasks: known without building the provider. */
  providerName: string;
  /** How long the API trusts a key it authenticated before reading it again (API_KEY_CACHE_SECONDS). */
  apiKeyCacheSeconds: number;
  /**
   * The upstream's submit quota shared by every worker (QUOTA_LIMIT or the provider's published one),
   * scoped by the provider's name.
   */
  upstreamQuota?: RateWindow;
  /**
   * The upstream pool (UPSTREAMS, core/pool.ts); absent: one upstream named after the provider, with
   * `upstreamQuota` (poolOf).
   */
  upstreams?: readonly UpstreamSpec[];
  /** When an upstream's circuit opens and how long it stays open before a probe (core/circuit.ts). */
  circuit?: CircuitRule;
  /**
   * Whether a generation that failed upstream after it was accepted (not a content rejection) is tried
   * again on another upstream (FAILOVER_MID_GENERATION); off by default: it may be billed twice.
   */
  failoverMidGeneration?: boolean;
  /** The API keys (names or key hashes) allowed to send a Step Functions `taskToken` (TASK_TOKEN_KEYS). */
  taskTokenKeys?: readonly string[];
  /** IAM principal ARN (a role, a user) → the key hash whose credits and limits its calls use (IAM_PRINCIPALS). */
  iamPrincipals?: Readonly<Record<string, string>>;
  /**
   * Local stack only: the IAM routes take the principal from the `x-local-iam-principal` header, as the
   * local gateway cannot verify SigV4. Never set in AWS, where API Gateway verifies the signature.
   */
  localIamPrincipalHeader?: boolean;
}

/**
 * Every port the core's use cases may need. No function gets all of it: each use case takes
 * `DepsFor<...>` of what it uses, and functions/composition builds exactly that per function.
 */
export interface Deps {
  tasks: TaskStore;
  apiKeys: ApiKeyStore;
  queues: TaskQueues;
  deadLetters: DeadLetterQueues;
  videos: VideoStore;
  provider: VideoProvider;
  /** Every upstream's provider by upstream name (the pool); absent: `provider` serves every task. */
  upstreamProviders?: Readonly<Record<string, VideoProvider>>;
  /** The upstreams' circuits, shared by every worker and poller; absent: every circuit stays closed. */
  circuits?: CircuitStore;
  callbacks: CallbackSender;
  events: EventPublisher;
  taskTokens: TaskTokens;
  images: ImageFetcher;
  cropper: ImageCropper;
  translator: Translator;
  watermarker: VideoWatermarker;
  upscaler: VideoUpscaler;
  settings: Settings;
  log: Log;
  metrics: Metrics;
  now: () => number;
}

/** The part of Deps one use case uses, so TypeScript proves each function is given what it needs. */
export type DepsFor<K extends keyof Deps> = Pick<Deps, K>;
