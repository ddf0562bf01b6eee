import { type ProviderCredentials, providerSecret } from '../adapters/provider-credentials';
import { createProvider, type Secret } from '../adapters/providers';
import type { Config } from '../config';
import type { Settings } from '../core/deps';
import { poolOf } from '../core/pool';
import type { VideoProvider } from '../core/ports';
import { refuseUrl } from '../core/url-guard';
import type { UpstreamEntry } from '../upstreams-config';

/** The configured provider; its credentials are read on first use, not here. */
export function videoProvider(config: Config, settings: Settings): VideoProvider {
  return createProvider({
    provider: config.PROVIDER,
    baseUrl: config.PROVIDER_BASE_URL,
    ...secrets(config),
    project: config.VERTEX_PROJECT,
    region: config.VERTEX_REGION,
    tokenUrl: config.VERTEX_TOKEN_URL,
    storageUri: config.VERTEX_STORAGE_URI,
    storageBaseUrl: config.VERTEX_STORAGE_URL,
    pushAccount: config.VERTEX_PUSH_ACCOUNT,
    pushAudience: config.VERTEX_PUSH_AUDIENCE ?? config.UPSTREAM_CALLBACK_URL,
    models: {
      veo3: config.VEO3_MODEL_ID,
      veo3_fast: config.VEO3_FAST_MODEL_ID,
      veo3_lite: config.VEO3_LITE_MODEL_ID,
    },
    videoUrlGuard: (url) => refuseUrl(url, settings.urlPolicy),
    webhooks: config.GEMINI_WEBHOOKS ?? config.PROVIDER === 'gemini',
    webhookJwksUrl:
      config.PROVIDER === 'vertex' ? config.VERTEX_PUSH_JWKS_URL : config.GEMINI_WEBHOOK_JWKS_URL,
  });
}

/**
 * The pool's providers (issue 16): one VideoProvider per upstream, by name, each with its own credentials
 * read lazily; `provider` is the first by priority (what serves tasks that name no upstream). Without
 * UPSTREAMS, the one provider of PROVIDER under its provider's name.
 */
export function upstreamProviders(
  config: Config,
  settings: Settings,
): { provider: VideoProvider; upstreamProviders: Record<string, VideoProvider> } {
  const entries = config.UPSTREAMS;
  if (!entries) {
    const provider = videoProvider(config, settings);
    return { provider, upstreamProviders: { [config.PROVIDER]: provider } };
  }
  const guard = (url: string) => refuseUrl(url, settings.urlPolicy);
  const upstreamProviders = Object.fromEntries(
    entries.map((entry) => [entry.name, upstreamProvider(entry, config, guard)]),
  );
  const first = poolOf(settings)
    .slice()
    .sort((a, b) => a.priority - b.priority)[0];
  const provider = first && upstreamProviders[first.name];
  if (!provider) throw new Error('UPSTREAMS: no upstream configured');
  return { provider, upstreamProviders };
}

function upstreamProvider(
  entry: UpstreamEntry,
  config: Config,
  guard: (url: string) => string | undefined,
): VideoProvider {
  try {
    return createProvider({
      provider: entry.provider,
      baseUrl: entry.baseUrl,
      ...entrySecrets(entry),
      project: entry.project,
      region: entry.region ?? config.VERTEX_REGION,
      tokenUrl: entry.tokenUrl,
      storageUri: entry.storageUri,
      pushAccount: entry.pushAccount,
      pushAudience: entry.pushAudience ?? config.UPSTREAM_CALLBACK_URL,
      models: entry.models,
      videoUrlGuard: guard,
      webhooks: entry.webhooks ?? config.GEMINI_WEBHOOKS ?? entry.provider === 'gemini',
      webhookJwksUrl: entry.webhookJwksUrl,
    });
  } catch (error) {
    // Name the upstream whose settings are missing, as the cold start's refusal.
    throw new Error(`UPSTREAMS ${entry.name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** An upstream's credentials: its own secret when deployed (read on first use), or given inline locally. */
function entrySecrets(entry: UpstreamEntry): {
  apiKey?: Secret;
  serviceAccountKey?: Secret;
  webhookSecret?: Secret;
} {
  if (entry.secretArn) return lazySecrets(entry.secretArn, `the secret of upstream ${entry.name}`);
  return {
    apiKey: entry.secret?.apiKey,
    serviceAccountKey: entry.secret?.serviceAccountJson,
    webhookSecret: entry.secret?.webhookSecret,
  };
}

/** Each credential the provider may need, read lazily (Secrets Manager when deployed, env vars locally). */
function secrets(config: Config): { apiKey?: Secret; serviceAccountKey?: Secret; webhookSecret?: Secret } {
  const arn = config.PROVIDER_SECRET_ARN;
  if (!arn) {
    // Known now: pass them as they are, so a missing one fails at cold start, naming it.
    const local = config.PROVIDER === 'kie' ? config.KIE_API_KEY : config.GEMINI_API_KEY;
    return {
      apiKey: local,
      serviceAccountKey: config.VERTEX_SERVICE_ACCOUNT_JSON,
      webhookSecret: config.KIE_WEBHOOK_SECRET,
    };
  }
  return lazySecrets(arn, 'the provider secret');
}

function lazySecrets(
  arn: string,
  what: string,
): { apiKey: Secret; serviceAccountKey: Secret; webhookSecret: Secret } {
  const read = providerSecret(arn);
  const field = (name: keyof ProviderCredentials) => async () => {
    const value = (await read())[name];
    if (!value) throw new Error(`${what} has no "${name}"`);
    return value;
  };
  return {
    apiKey: field('apiKey'),
    serviceAccountKey: field('serviceAccountJson'),
    webhookSecret: field('webhookSecret'),
  };
}
