import * as z from 'zod';
import { capabilityModels, resolutions } from './core/capabilities';
import { providerNames } from './core/ports';
import { parseRateLimit } from './core/rate-window';
import { upstreamsSchema } from './upstreams-config';

/**
 * Everything a function needs from its environment, read once at module scope and validated,
 * so a misconfigured deployment fails at cold start instead of on the first request.
 * The CDK stack and the local runtime set exactly these variables.
 */
/** A `true` / `false` setting (environment variables and CDK context are strings). */
export const flag = z.enum(['true', 'false']).transform((v) => v === 'true');
/**
 * The kinds of setting, built once and shared by every field of their kind: zod schemas are immutable, and each
 * one built costs a cold start (bench/README.md, **init**).
 */
const wholeNumber = z.coerce.number().int().nonnegative();
const seconds = wholeNumber;
const positiveInt = z.coerce.number().int().positive();
const positive = z.coerce.number().positive();
const text = z.string().min(1);
const optionalText = text.optional();
const url = z.url();
const optionalUrl = url.optional();
const off = flag.default(false);

/** PRICE_TABLE: model → resolution → {audio?, silent?} credits per second, every key known. */
function priceTableSchema() {
  const price = z.number().nonnegative().finite();
  const cell = z.strictObject({ audio: price.optional(), silent: price.optional() });
  const row = z.partialRecord(z.enum(resolutions), cell);
  return z.partialRecord(z.enum(capabilityModels), row);
}

export const configSchema = z.object({
  TASKS_TABLE: text,
  API_KEYS_TABLE: text,
  GENERATE_QUEUE_URL: url,
  RESERVED_QUEUE_URL: url,
  POLL_QUEUE_URL: url,
  NOTIFY_QUEUE_URL: url,
  VIDEO_BUCKET: text,
  COUNTERS_TABLE: text,
  /** Which upstream generates the videos; `simulator` is the project's simulator in the Gemini API's shape. */
  PROVIDER: z.enum(providerNames).default('simulator'),
  /** Base URL of the provider's API (the simulator's address locally); each provider has a default. */
  PROVIDER_BASE_URL: optionalUrl,
  /**
   * Deployed: a Secrets Manager secret holding the provider's credentials as JSON
   * ({"apiKey"} for gemini, {"serviceAccountJson"} for vertex, {"apiKey","webhookSecret"} for kie).
   * Locally the variables below are used instead.
   */
  PROVIDER_SECRET_ARN: optionalText,
  GEMINI_API_KEY: optionalText,
  VERTEX_SERVICE_ACCOUNT_JSON: optionalText,
  VERTEX_PROJECT: optionalText,
  VERTEX_REGION: text.default('us-central1'),
  /** Only for Vertex against the simulator: where service-account tokens are minted. */
  VERTEX_TOKEN_URL: optionalUrl,
  /** Only for Vertex against the simulator: the Cloud Storage API's base (default Google's). */
  VERTEX_STORAGE_URL: optionalUrl,
  /** A gs:// prefix Vertex writes the videos to instead of returning them inline. */
  VERTEX_STORAGE_URI: z.string().startsWith('gs://').optional(),
  /**
   * Vertex AI's push (issue 17; needs VERTEX_STORAGE_URI): the service account whose OIDC tokens the Pub/Sub
   * push subscription of the bucket's notifications sends to UPSTREAM_CALLBACK_URL. Unset: Vertex is polled.
   */
  VERTEX_PUSH_ACCOUNT: z.email().optional(),
  /** Those tokens' audience, as the subscription sets it; default UPSTREAM_CALLBACK_URL (Pub/Sub's default). */
  VERTEX_PUSH_AUDIENCE: optionalText,
  /** Where the tokens' signing keys are published; default Google's https://www.googleapis.com/oauth2/v3/certs. */
  VERTEX_PUSH_JWKS_URL: optionalUrl,
  KIE_API_KEY: optionalText,
  KIE_WEBHOOK_SECRET: optionalText,
  /**
   * The Gemini API's webhooks (issue 17): each submit asks Google to push `video.generated` to
   * UPSTREAM_CALLBACK_URL, so a finished video is noticed at once (polled only if no push came: PUSH_CHECK_SECONDS).
   * Default on for PROVIDER gemini, off for the simulator; an UPSTREAMS entry's `webhooks` overrides it.
   */
  GEMINI_WEBHOOKS: flag.optional(),
  /** The key set that signs those pushes; default `<PROVIDER_BASE_URL or Google's>/.well-known/jwks.json`. */
  GEMINI_WEBHOOK_JWKS_URL: optionalUrl,
  /** Our public address for upstream pushes (kie.ai's callBackUrl): `<api url>/internal/upstream-callback`. */
  UPSTREAM_CALLBACK_URL: optionalUrl,
  /** Upstream submits per window shared by every worker; unset means the provider's published quota. */
  QUOTA_LIMIT: positiveInt.optional(),
  QUOTA_WINDOW_SECONDS: positive.optional(),
  /** The upstream pool (issue 16), a JSON array (upstreams-config.ts); absent: one upstream from PROVIDER. */
  UPSTREAMS: upstreamsSchema.optional(),
  /** Unavailability answers in a row that open an upstream's circuit, and how long it stays open before a probe. */
  CIRCUIT_THRESHOLD: positiveInt.default(3),
  CIRCUIT_COOL_DOWN_SECONDS: positive.default(30),
  /**
   * Whether a generation an upstream accepted and then failed (not a content rejection, which never moves)
   * is started again on another upstream of the pool. Off by default: the first may still be billed.
   */
  FAILOVER_MID_GENERATION: off,
  /** New tasks per window per API key, e.g. `20/10s`; a key's own `rateLimit` overrides it. */
  RATE_LIMIT: z
    .string()
    .default('20/10s')
    .transform((text, ctx) => {
      try {
        return parseRateLimit(text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /**
   * How long an API instance trusts a key it authenticated, without reading it again. A revocation reaches
   * reads (record-info, listing) within this time; charged work (generate, extend, 4K) is refused at once,
   * since the charge itself checks the key. 0 reads the key on every request.
   */
  API_KEY_CACHE_SECONDS: seconds.max(300).default(10),
  /** `amazon` (Amazon Translate) when deployed; `none` sends prompts as written (the local default). */
  TRANSLATOR: z.enum(['amazon', 'none']).default('none'),
  /** Set where the poller has ffmpeg (a layer when deployed, the npm binary locally). */
  FFMPEG_AVAILABLE: off,
  IMAGE_MAX_BYTES: positiveInt.default(20 * 1024 * 1024),
  /** Upstream model ids behind `veo3`, `veo3_fast` and `veo3_lite`; unset means the provider's Veo 3.1 defaults. */
  VEO3_MODEL_ID: optionalText,
  VEO3_FAST_MODEL_ID: optionalText,
  VEO3_LITE_MODEL_ID: optionalText,
  /** Endpoints of local emulators; unset in AWS, where the SDK's defaults apply. */
  DYNAMODB_ENDPOINT: optionalUrl,
  SQS_ENDPOINT: optionalUrl,
  S3_ENDPOINT: optionalUrl,
  /**
   * Task events (issue 19): the EventBridge bus they go to (`default`: the account's default bus; `off`:
   * none). EVENTS_QUEUE_URL, set only by the local stack, sends them to an SQS queue instead.
   */
  EVENT_BUS_NAME: z.string().min(1).max(256).default('default'),
  EVENTS_QUEUE_URL: optionalUrl,
  /** Comma-separated names (or key hashes) of the API keys that may send a Step Functions `taskToken`. */
  TASK_TOKEN_KEYS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name !== ''),
    ),
  /** JSON object: IAM principal ARN → key hash, for the AWS_IAM routes under /iam/api/v1/. */
  IAM_PRINCIPALS: z
    .string()
    .default('{}')
    .transform((text, ctx) => {
      const parsed = z.record(z.string().startsWith('arn:'), z.string().regex(/^[0-9a-f]{64}$/)).safeParse(
        (() => {
          try {
            return JSON.parse(text);
          } catch {
            return undefined;
          }
        })(),
      );
      if (parsed.success) return parsed.data;
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object of principal ARN → 64-hex key hash' });
      return z.NEVER;
    }),
  /** Local stack only: the IAM routes trust the x-local-iam-principal header (no SigV4 locally). */
  LOCAL_IAM_PRINCIPAL_HEADER: off,
  /** Step Functions' endpoint, for tests; unset in AWS. */
  SFN_ENDPOINT: optionalUrl,
  /** Loopback callback and image URLs are accepted only by the local stack. */
  ALLOW_LOOPBACK_URLS: off,
  /** Deployed stages refuse plain-http callback URLs unless this is set. */
  ALLOW_HTTP_CALLBACKS: off,
  PRICE_VEO3: wholeNumber.default(300),
  PRICE_VEO3_FAST: wholeNumber.default(60),
  PRICE_4K: wholeNumber.default(120),
  /**
   * Per-second prices overriding cells of the default table (core/pricing.ts), as JSON by model,
   * resolution and audio, e.g. {"veo3":{"4k":{"audio":80,"silent":60}},"veo3_lite":{"720p":{"audio":4}}}.
   */
  PRICE_TABLE: z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON' });
        return z.NEVER;
      }
    })
    .pipe(priceTableSchema())
    .optional(),
  RETENTION_DAYS: positiveInt.default(14),
  /** Delay between two polls of the upstream operation. */
  POLL_INTERVAL_SECONDS: seconds.max(900).default(10),
  /** How long a task whose upstream pushes waits for the push before it is polled (Settings.pushCheckSeconds). */
  PUSH_CHECK_SECONDS: seconds.default(180),
  /** A task that is not done after this long fails with 501 instead of staying stuck. */
  TASK_BUDGET_SECONDS: seconds.default(1800),
  /** A 1080p / 4K rendition not done after this long is ended by the sweeper (failed, refunded). */
  RENDITION_BUDGET_SECONDS: seconds.default(3600),
  /** How long past a deadline the sweeper waits; unset: the poller's timeout (see Settings). */
  SWEEP_GRACE_SECONDS: seconds.optional(),
  /** The worker's and the poller's Lambda timeouts, set from functions/manifest.ts by infra/ and local/. */
  WORKER_TIMEOUT_SECONDS: positiveInt.default(60),
  POLLER_TIMEOUT_SECONDS: positiveInt.default(300),
  /** The stages' dead-letter queues, which the sweeper drains (only the sweeper is granted them). */
  GENERATE_DLQ_URL: optionalUrl,
  RESERVED_DLQ_URL: optionalUrl,
  POLL_DLQ_URL: optionalUrl,
  NOTIFY_DLQ_URL: optionalUrl,
  /** Lifetime of the presigned result URLs handed out by record-info. */
  RESULT_URL_TTL_SECONDS: seconds.max(604800).default(86400),
  /**
   * Waits before each retry of a client callback that was not taken (non-2xx, timeout, connection error),
   * comma-separated seconds: one retry per entry, at least 3 (SPEC §3). Up to a day each; waits over
   * SQS's 15-minute delay take several rounds through the notify queue.
   */
  CALLBACK_RETRY_SCHEDULE_SECONDS: z
    .string()
    .default('10,30,120,600,1800')
    .transform((list) => list.split(',').map((entry) => entry.trim()))
    .pipe(
      z
        .array(z.string().regex(/^\d+$/, 'whole seconds').transform(Number).pipe(z.number().max(86400)))
        .min(3),
    ),
});

export type Config = z.infer<typeof configSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid function configuration: ${problems}`);
  }
  return parsed.data;
}
