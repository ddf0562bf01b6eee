import { type ProviderCredentials, providerSecret } from '../adapters/provider-credentials';
import { createProvider, type Secret } from '../adapters/providers';
import type { Config } from '../config';
import type { Settings } from '../core/deps';
import type { VideoProvider } from '../core/ports';
import { refuseUrl } from '../core/url-guard';

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
    models: {
      veo3: config.VEO3_MODEL_ID,
      veo3_fast: config.VEO3_FAST_MODEL_ID,
      veo3_lite: config.VEO3_LITE_MODEL_ID,
    },
    videoUrlGuard: (url) => refuseUrl(url, settings.urlPolicy),
  });
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
  const read = providerSecret(arn);
  const field = (name: keyof ProviderCredentials) => async () => {
    const value = (await read())[name];
    if (!value) throw new Error(`the provider secret has no "${name}"`);
    return value;
  };
  return {
    apiKey: field('apiKey'),
    serviceAccountKey: field('serviceAccountJson'),
    webhookSecret: field('webhookSecret'),
  };
}
