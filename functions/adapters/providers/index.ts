import type { ProviderName, VideoProvider } from '../../core/ports';
import { GEMINI_BASE_URL, GeminiProvider, type GeminiProviderOptions } from './gemini-provider';
import { KieProvider } from './kie-provider';
import type { Secret } from './upstream-http';
import type { VeoModel, VeoResolution } from './veo-request';
import { VertexProvider } from './vertex-provider';

export { GeminiProvider } from './gemini-provider';
export { KieProvider, verifyKieSignature } from './kie-provider';
export type { Secret } from './upstream-http';
export { VertexProvider } from './vertex-provider';

/** Everything any provider may need, flat, as the composition reads it from config and secrets. */
export interface ProviderSettings {
  provider: ProviderName;
  /** The API's base URL; each provider has Google's / kie's as default (the simulator needs it). */
  baseUrl?: string;
  /** gemini: the API key (x-goog-api-key); kie: the Bearer key; simulator: optional Gemini key. */
  apiKey?: Secret;
  /** vertex: the service account's JSON key. */
  serviceAccountKey?: Secret;
  /** kie: the webhook HMAC key that signs its pushes. */
  webhookSecret?: Secret;
  /** vertex: default the key's project_id. */
  project?: string;
  /** vertex: e.g. us-central1. */
  region?: string;
  /** Upstream model ids behind veo3 / veo3_fast / veo3_lite; unset means the provider's Veo 3.1 defaults. */
  models?: { veo3?: string; veo3_fast?: string; veo3_lite?: string };
  /** gemini and vertex: 720p (default) or 1080p. */
  resolution?: VeoResolution;
  /** vertex: a gs:// prefix to have the videos written to instead of returned inline. */
  storageUri?: string;
  /** vertex: the OAuth token endpoint, when not Google's (the simulator's `${url}/token`). */
  tokenUrl?: string;
  /** vertex: the Cloud Storage API base, when not Google's. */
  storageBaseUrl?: string;
  /** gemini, simulator: ask for the Gemini API's webhooks (pushes) and verify them. */
  webhooks?: boolean;
  /**
   * gemini, simulator, vertex: where the keys that sign the pushes are published (default: Google's, for
   * the Gemini API `<baseUrl>/.well-known/jwks.json`, for Vertex's Pub/Sub tokens its OAuth certs).
   */
  webhookJwksUrl?: string;
  /** vertex: the service account of the push subscription's tokens (its push; needs storageUri). */
  pushAccount?: string;
  /** vertex: those tokens' audience (the composition defaults it to our push URL, where a function has it). */
  pushAudience?: string;
  /** gemini, kie, simulator: refuses video URLs an upstream points at (wire the core's URL guard). */
  videoUrlGuard?: (url: string) => string | undefined;
  timeoutMs?: number;
}

const geminiDefaultModels = {
  veo3: 'veo-3.1-generate-preview',
  veo3_fast: 'veo-3.1-fast-generate-preview',
  veo3_lite: 'veo-3.1-lite-generate-preview',
};

/** The one place that turns settings into a VideoProvider; throws at cold start when one is missing. */
export function createProvider(settings: ProviderSettings): VideoProvider {
  const models = { ...definedOnly(settings.models) };
  switch (settings.provider) {
    case 'simulator':
      // The simulator speaks every shape; the Gemini one needs no credentials unless it was given a key.
      return geminiProvider(settings, {
        name: 'simulator',
        baseUrl: required(settings, 'baseUrl'),
        apiKey: settings.apiKey,
      });
    case 'gemini':
      return geminiProvider(settings, {
        name: 'gemini',
        baseUrl: settings.baseUrl ?? GEMINI_BASE_URL,
        apiKey: required(settings, 'apiKey'),
      });
    case 'vertex':
      return new VertexProvider({
        serviceAccountKey: required(settings, 'serviceAccountKey'),
        project: settings.project,
        region: required(settings, 'region'),
        baseUrl: settings.baseUrl,
        models,
        resolution: settings.resolution,
        storageUri: settings.storageUri,
        storageBaseUrl: settings.storageBaseUrl,
        tokenUrl: settings.tokenUrl,
        timeoutMs: settings.timeoutMs,
        ...(settings.pushAccount && {
          push: {
            account: settings.pushAccount,
            audience: settings.pushAudience,
            jwksUrl: settings.webhookJwksUrl,
          },
        }),
      });
    case 'kie':
      return new KieProvider({
        baseUrl: settings.baseUrl,
        apiKey: required(settings, 'apiKey'),
        webhookSecret: settings.webhookSecret,
        models,
        videoUrlGuard: settings.videoUrlGuard,
        timeoutMs: settings.timeoutMs,
      });
  }
}

/** The Gemini API's wire format, which the simulator speaks too: only name, origin and key differ. */
function geminiProvider(
  settings: ProviderSettings,
  own: Pick<GeminiProviderOptions, 'name' | 'baseUrl' | 'apiKey'>,
): GeminiProvider {
  return new GeminiProvider({
    ...own,
    models: { ...geminiDefaultModels, ...definedOnly(settings.models) },
    resolution: settings.resolution,
    videoUrlGuard: settings.videoUrlGuard,
    timeoutMs: settings.timeoutMs,
    ...(settings.webhooks && { push: { jwksUrl: settings.webhookJwksUrl } }),
  });
}

function required<K extends keyof ProviderSettings>(
  settings: ProviderSettings,
  key: K,
): NonNullable<ProviderSettings[K]> {
  const value = settings[key];
  if (value === undefined || value === '') {
    throw new Error(`provider ${settings.provider} needs ${key}`);
  }
  return value as NonNullable<ProviderSettings[K]>;
}

function definedOnly(models: ProviderSettings['models']): Partial<Record<VeoModel, string>> {
  const out: Partial<Record<VeoModel, string>> = {};
  if (models?.veo3) out.veo3 = models.veo3;
  if (models?.veo3_fast) out.veo3_fast = models.veo3_fast;
  if (models?.veo3_lite) out.veo3_lite = models.veo3_lite;
  return out;
}
