import type { Config } from '../config';
import { capabilityModels } from '../core/capabilities';
import type { Settings } from '../core/deps';
import type { UpstreamSpec } from '../core/pool';
import type { RateWindow } from '../core/rate-window';
import type { UpstreamEntry } from '../upstreams-config';

export function settingsFrom(config: Config): Settings {
  return {
    prices: { veo3: config.PRICE_VEO3, veo3_fast: config.PRICE_VEO3_FAST },
    priceTable: config.PRICE_TABLE,
    retentionDays: config.RETENTION_DAYS,
    budgetSeconds: config.TASK_BUDGET_SECONDS,
    renditionBudgetSeconds: config.RENDITION_BUDGET_SECONDS,
    sweepGraceSeconds: config.SWEEP_GRACE_SECONDS ?? config.POLLER_TIMEOUT_SECONDS,
    workerTimeoutSeconds: config.WORKER_TIMEOUT_SECONDS,
    pollerTimeoutSeconds: config.POLLER_TIMEOUT_SECONDS,
    pollIntervalSeconds: config.POLL_INTERVAL_SECONDS,
    urlPolicy: { allowLoopback: config.ALLOW_LOOPBACK_URLS, allowHttp: config.ALLOW_HTTP_CALLBACKS },
    ffmpegAvailable: config.FFMPEG_AVAILABLE,
    price4k: config.PRICE_4K,
    pushUrl: config.UPSTREAM_CALLBACK_URL,
    pushCheckSeconds: config.PUSH_CHECK_SECONDS,
    callbackRetrySeconds: config.CALLBACK_RETRY_SCHEDULE_SECONDS,
    rateLimit: config.RATE_LIMIT,
    providerName: config.PROVIDER,
    apiKeyCacheSeconds: config.API_KEY_CACHE_SECONDS,
    upstreamQuota: upstreamQuota(config),
    ...(config.UPSTREAMS && { upstreams: config.UPSTREAMS.map(upstreamSpec) }),
    circuit: { threshold: config.CIRCUIT_THRESHOLD, coolDownMs: config.CIRCUIT_COOL_DOWN_SECONDS * 1000 },
    failoverMidGeneration: config.FAILOVER_MID_GENERATION,
    taskTokenKeys: config.TASK_TOKEN_KEYS,
    iamPrincipals: config.IAM_PRINCIPALS,
    localIamPrincipalHeader: config.LOCAL_IAM_PRINCIPAL_HEADER,
  };
}

/** The upstreams' published submit quotas; QUOTA_LIMIT / QUOTA_WINDOW_SECONDS override them. */
const publishedQuotas: Partial<Record<Config['PROVIDER'], Omit<RateWindow, 'scope'>>> = {
  kie: { limit: 20, windowMs: 10_000 }, // kie.ai: 20 new requests per 10 s per account
  vertex: { limit: 50, windowMs: 60_000 }, // Veo 3.1 GA on Vertex AI, per project and region
  gemini: { limit: 10, windowMs: 60_000 }, // Veo preview models on the Gemini API; tier-dependent
};

/** The upstream's submit quota, scoped by the provider's name (what its adapter calls itself). */
export function upstreamQuota(config: Config): RateWindow | undefined {
  const published = publishedQuotas[config.PROVIDER];
  const limit = config.QUOTA_LIMIT ?? published?.limit;
  if (limit === undefined) return undefined;
  const windowMs = config.QUOTA_WINDOW_SECONDS
    ? config.QUOTA_WINDOW_SECONDS * 1000
    : (published?.windowMs ?? 60_000);
  return { scope: config.PROVIDER, limit, windowMs };
}

/** One entry of UPSTREAMS as the core routes on it: its quota scoped by its name. */
export function upstreamSpec(entry: UpstreamEntry): UpstreamSpec {
  const published = publishedQuotas[entry.provider];
  const quota = entry.quota
    ? { limit: entry.quota.limit, windowMs: entry.quota.windowSeconds * 1000 }
    : published;
  return {
    name: entry.name,
    provider: entry.provider,
    ...(quota && { quota: { scope: entry.name, ...quota } }),
    priority: entry.priority,
    serves: entry.serves ?? capabilityModels,
  };
}
