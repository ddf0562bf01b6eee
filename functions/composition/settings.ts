import type { Config } from '../config';
import type { Settings } from '../core/deps';

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
    providerName: config.PROVIDER,
    apiKeyCacheSeconds: config.API_KEY_CACHE_SECONDS,
  };
}
