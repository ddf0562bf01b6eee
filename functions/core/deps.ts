import type {
  ApiKeyStore,
  CallbackSender,
  ImageCropper,
  ImageFetcher,
  QuotaGate,
  TaskQueues,
  TaskStore,
  Translator,
  VideoProvider,
  VideoStore,
  VideoWatermarker,
} from './ports';
import type { Model } from './schema';
import type { UrlPolicy } from './url-guard';

/** Settings the core's decisions depend on (prices, budgets, retention), resolved from config. */
export interface Settings {
  prices: Record<Model, number>;
  retentionDays: number;
  budgetSeconds: number;
  /** First delay between two polls; later ones grow up to six times it (Veo takes 11 s to 6 min). */
  pollIntervalSeconds: number;
  urlPolicy: UrlPolicy;
  /** Watermarks need ffmpeg where the poller runs; without it they are refused at submit (505). */
  watermarkEnabled: boolean;
  /** Our address for upstream pushes (kie.ai's callBackUrl); the taskId is added as a query parameter. */
  upstreamCallbackUrl?: string;
}

/** A structured logger (Powertools' Logger satisfies it). */
export interface Log {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** Everything the core's use cases need, wired once in functions/container.ts. */
export interface Deps {
  tasks: TaskStore;
  apiKeys: ApiKeyStore;
  queues: TaskQueues;
  videos: VideoStore;
  provider: VideoProvider;
  callbacks: CallbackSender;
  images: ImageFetcher;
  cropper: ImageCropper;
  translator: Translator;
  watermarker: VideoWatermarker;
  /** The upstream's submit quota, shared by every worker. */
  quota: QuotaGate;
  settings: Settings;
  log: Log;
  now: () => number;
}
