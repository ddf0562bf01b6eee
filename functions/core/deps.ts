import type { ApiKeyStore, CallbackSender, TaskQueues, TaskStore, VideoProvider, VideoStore } from './ports';
import type { Model } from './schema';
import type { UrlPolicy } from './url-guard';

/** Settings the core's decisions depend on (prices, budgets, retention), resolved from config. */
export interface Settings {
  prices: Record<Model, number>;
  retentionDays: number;
  budgetSeconds: number;
  pollIntervalSeconds: number;
  urlPolicy: UrlPolicy;
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
  settings: Settings;
  log: Log;
  now: () => number;
}
