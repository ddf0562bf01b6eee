import type { Node } from 'constructs';
import * as z from 'zod';
import { type Config, configSchema, flag } from '../functions/config';
import { type UpstreamEntry, upstreamsSchema, vertexPushProblem } from '../functions/upstreams-config';

/**
 * The deployment's choices: read from CDK context by the project's own app (cdk.json, `-c key=value`),
 * or given as props to `new VeoServerless(...)` by any other app. Both go through `parseSettings`, which
 * validates each value with the functions' own config schema, so a value the functions would refuse at
 * cold start fails `cdk synth` instead.
 */
export interface StackSettings {
  provider: Config['PROVIDER'];
  /** Absent means the provider's own API (Google's, kie.ai's); the simulator must be given one. */
  providerBaseUrl?: string;
  /** An existing Secrets Manager secret with the provider's credentials; absent for the simulator. */
  providerSecretArn?: string;
  vertexProject?: string;
  vertexRegion?: string;
  vertexStorageUri?: string;
  /**
   * Vertex AI's push (needs vertexStorageUri): the service account of the tokens its bucket's Pub/Sub push
   * subscription sends to our upstream-callback URL, and their audience (default that URL).
   */
  vertexPushAccount?: string;
  vertexPushAudience?: string;
  /** Upstream submits per window; absent means the provider's published quota. */
  quotaLimit?: number;
  quotaWindowSeconds?: number;
  translation: Config['TRANSLATOR'];
  /** A Lambda layer with an arm64 ffmpeg at /opt/bin/ffmpeg; absent turns watermarks and Auto crop off. */
  ffmpegLayerArn?: string;
  retentionDays: number;
  allowHttpCallbacks: boolean;
  pollIntervalSeconds: number;
  /** How long a task whose upstream pushes waits for the push before it is polled. */
  pushCheckSeconds: number;
  /**
   * X-Ray: every function traces actively with Powertools' Tracer (default). Off, the functions neither
   * trace nor load the X-Ray SDK, which takes 22–46 ms off each cold start (bench `init.tracing-off.*`).
   */
  tracing: boolean;
  /** Upstream model ids; absent means the provider's Veo 3.1 defaults. */
  veo3ModelId?: string;
  veo3FastModelId?: string;
  veo3LiteModelId?: string;
  /**
   * Concurrency reserved for the api function; absent reserves none. Reserving also caps the api at
   * this number, and Lambda refuses a reservation that leaves the account under 100 unreserved.
   */
  apiReservedConcurrency?: number;
  /** The EventBridge bus task events go to: `default` (the account's) unless named; `off`: no events. */
  eventBusName?: string;
  /** Comma-separated names (or key hashes) of the API keys that may send a Step Functions `taskToken`. */
  taskTokenKeys?: string;
  /** JSON object: IAM principal ARN (role or user) → key hash, for the AWS_IAM routes under /iam/api/v1. */
  iamPrincipals?: string;
  /**
   * The upstream pool (issue 16; functions/upstreams-config.ts): a JSON array, or the array itself from
   * cdk.json or props. Each entry's credentials come from its own `secretArn`; absent, one upstream from
   * `provider` and its settings.
   */
  upstreams?: UpstreamEntry[];
}

/** The same settings as input: what a CDK app passes to VeoServerless (numbers and booleans as such). */
export type SettingsInput = {
  [K in keyof StackSettings]?: StackSettings[K] extends number | undefined
    ? number | string
    : StackSettings[K] extends boolean
      ? boolean | string
      : StackSettings[K];
};

/** What each real provider's secret must hold (functions/adapters/provider-credentials.ts). */
export const providerSecretFields = {
  gemini: '{"apiKey": "<Gemini API key>"}',
  vertex: '{"serviceAccountJson": "<the service account key file, as one JSON string>"}',
  kie: '{"apiKey": "<kie.ai API key>", "webhookSecret": "<kie.ai webhook HMAC key>"}',
} as const;

const secretArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$/,
    'must be a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX)',
  );
const layerVersionArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[\w-]+:\d+$/,
    'must be a Lambda layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)',
  );

const shape = configSchema.shape;

/**
 * Each setting: its schema (the functions' own, from functions/config.ts, where it reaches them) and the
 * environment variable it becomes. The one list both the validation and the environment derive from.
 */
const settingSchemas = {
  provider: { schema: shape.PROVIDER.unwrap().optional(), env: 'PROVIDER' },
  providerBaseUrl: { schema: shape.PROVIDER_BASE_URL, env: 'PROVIDER_BASE_URL' },
  providerSecretArn: {
    schema: secretArn.pipe(shape.PROVIDER_SECRET_ARN.unwrap()).optional(),
    env: 'PROVIDER_SECRET_ARN',
  },
  vertexProject: { schema: shape.VERTEX_PROJECT, env: 'VERTEX_PROJECT' },
  // The functions default the region themselves; only a chosen one goes into the environment.
  vertexRegion: { schema: shape.VERTEX_REGION.unwrap().optional(), env: 'VERTEX_REGION' },
  vertexStorageUri: { schema: shape.VERTEX_STORAGE_URI, env: 'VERTEX_STORAGE_URI' },
  vertexPushAccount: { schema: shape.VERTEX_PUSH_ACCOUNT, env: 'VERTEX_PUSH_ACCOUNT' },
  vertexPushAudience: { schema: shape.VERTEX_PUSH_AUDIENCE, env: 'VERTEX_PUSH_AUDIENCE' },
  quotaLimit: { schema: shape.QUOTA_LIMIT, env: 'QUOTA_LIMIT' },
  quotaWindowSeconds: { schema: shape.QUOTA_WINDOW_SECONDS, env: 'QUOTA_WINDOW_SECONDS' },
  // Locally prompts go as written; a deployment translates them unless told not to.
  translation: { schema: shape.TRANSLATOR.unwrap().default('amazon'), env: 'TRANSLATOR' },
  // Not an environment variable: the layer's presence becomes FFMPEG_AVAILABLE (see environmentOf).
  ffmpegLayerArn: { schema: layerVersionArn.optional(), env: undefined },
  retentionDays: { schema: shape.RETENTION_DAYS, env: 'RETENTION_DAYS' },
  allowHttpCallbacks: { schema: shape.ALLOW_HTTP_CALLBACKS, env: 'ALLOW_HTTP_CALLBACKS' },
  pollIntervalSeconds: { schema: shape.POLL_INTERVAL_SECONDS, env: 'POLL_INTERVAL_SECONDS' },
  pushCheckSeconds: { schema: shape.PUSH_CHECK_SECONDS, env: 'PUSH_CHECK_SECONDS' },
  // Not a config variable: off becomes Powertools' own POWERTOOLS_TRACE_ENABLED (see settingsEnvironment).
  tracing: { schema: flag.default(true), env: undefined },
  veo3ModelId: { schema: shape.VEO3_MODEL_ID, env: 'VEO3_MODEL_ID' },
  veo3FastModelId: { schema: shape.VEO3_FAST_MODEL_ID, env: 'VEO3_FAST_MODEL_ID' },
  veo3LiteModelId: { schema: shape.VEO3_LITE_MODEL_ID, env: 'VEO3_LITE_MODEL_ID' },
  apiReservedConcurrency: { schema: z.coerce.number().int().positive().optional(), env: undefined },
  eventBusName: { schema: shape.EVENT_BUS_NAME.unwrap().optional(), env: 'EVENT_BUS_NAME' },
  taskTokenKeys: { schema: z.string().optional(), env: 'TASK_TOKEN_KEYS' },
  iamPrincipals: {
    schema: z
      .string()
      .optional()
      .refine((v) => v === undefined || shape.IAM_PRINCIPALS.safeParse(v).success, {
        message: 'must be a JSON object of principal ARN → 64-hex key hash',
      }),
    env: 'IAM_PRINCIPALS',
  },
  upstreams: {
    schema: upstreamsSchema.pipe(z.array(z.any()).superRefine(deployable)).optional(),
    env: 'UPSTREAMS',
  },
} as const satisfies Record<keyof StackSettings, { schema: z.ZodType; env: keyof Config | undefined }>;

/**
 * What a deployed pool needs beyond the functions' schema: credentials only by secret ARN (an inline
 * `secret` would land in the template), a simulator only at an address given to it.
 */
function deployable(list: UpstreamEntry[], ctx: z.RefinementCtx): void {
  for (const [index, entry] of list.entries()) {
    if (entry.secret)
      ctx.addIssue({
        code: 'custom',
        path: [index, 'secret'],
        message: 'inline secrets are for local runs only; deployed, give secretArn',
      });
    if (entry.provider !== 'simulator' && !entry.secretArn)
      ctx.addIssue({
        code: 'custom',
        path: [index, 'secretArn'],
        message: `provider "${entry.provider}" needs a Secrets Manager secret (JSON ${providerSecretFields[entry.provider]})`,
      });
    if (entry.secretArn && !secretArn.safeParse(entry.secretArn).success)
      ctx.addIssue({
        code: 'custom',
        path: [index, 'secretArn'],
        message: 'must be a Secrets Manager secret ARN',
      });
    if (entry.provider === 'simulator' && !entry.baseUrl)
      ctx.addIssue({
        code: 'custom',
        path: [index, 'baseUrl'],
        message: 'a simulator upstream needs its address',
      });
  }
}

export const settingKeys = Object.keys(settingSchemas) as (keyof StackSettings)[];

/** What to set so that a synth knows where videos come from: named in every refusal below. */
const howToChoose =
  'set -c provider=kie|vertex|gemini -c providerSecretArn=arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME ' +
  '(or -c provider=simulator -c providerBaseUrl=https://your-simulator for a test stage)';

/**
 * Validates settings, from context or from props. `origin` names where they came from in every message
 * (`CDK context`, `VeoServerless prop`). Values from `-c key=value` arrive as strings, values from
 * cdk.json or props as JSON values: both work. Absent keys take the schema's defaults.
 */
export function parseSettings(
  read: (key: keyof StackSettings) => unknown,
  origin = 'CDK context',
): StackSettings {
  const parse = <K extends keyof StackSettings>(key: K) => {
    const value = read(key);
    const { schema } = settingSchemas[key];
    // The pool is JSON (a string from -c, an array from cdk.json or props); every other value a string.
    const given =
      value === undefined || value === null ? undefined : key === 'upstreams' ? value : String(value);
    const result = schema.safeParse(given);
    if (!result.success) throw new Error(`Invalid ${origin} "${key}": ${z.prettifyError(result.error)}`);
    return result.data as StackSettings[K];
  };
  const upstreams = parse('upstreams');
  // A pool names its providers itself: `provider` only labels the deployment (the first upstream's).
  const provider = (parse('provider') as StackSettings['provider'] | undefined) ?? upstreams?.[0]?.provider;
  if (provider === undefined) {
    throw new Error(`Missing ${origin} "provider": which upstream generates the videos? ${howToChoose}`);
  }
  const providerBaseUrl = parse('providerBaseUrl');
  if (provider === 'simulator' && providerBaseUrl === undefined && !upstreams) {
    // The simulator has no public address of its own: without one every generation would fail.
    throw new Error(
      `Missing ${origin} "providerBaseUrl": provider "simulator" needs the address of a running simulator. ` +
        `For a real deployment ${howToChoose}`,
    );
  }
  const providerSecretArn = parse('providerSecretArn');
  if (provider !== 'simulator' && providerSecretArn === undefined && !upstreams) {
    throw new Error(
      `Missing ${origin} "providerSecretArn": provider "${provider}" reads its credentials from an ` +
        `existing Secrets Manager secret whose value is the JSON ${providerSecretFields[provider]}. ` +
        'Create it first, then pass its ARN with -c providerSecretArn=arn:aws:secretsmanager:...',
    );
  }
  const settings = Object.fromEntries(
    settingKeys.map((key) => [key, parse(key)]),
  ) as unknown as StackSettings;
  const pushProblem = vertexPushProblem(
    { provider, storageUri: settings.vertexStorageUri, pushAccount: settings.vertexPushAccount },
    'vertexStorageUri',
  );
  if (pushProblem) throw new Error(`Invalid ${origin} "vertexPushAccount": ${pushProblem}`);
  return { ...settings, provider, providerBaseUrl, providerSecretArn, upstreams };
}

/** Reads the context keys (cdk.json, `-c key=value`) of the project's own app. */
export function readStackSettings(node: Node): StackSettings {
  return parseSettings((key) => node.tryGetContext(key));
}

/**
 * The deployment's settings as the functions' environment variables (functions/config.ts): only the
 * ones chosen, so the functions' own defaults apply to the rest.
 */
export function settingsEnvironment(settings: StackSettings): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const key of settingKeys) {
    const { env } = settingSchemas[key];
    const value = settings[key];
    if (env === undefined || value === undefined || value === '') continue;
    environment[env] = typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  // The api refuses watermark requests where the poller has no ffmpeg; only the layer brings it.
  environment.FFMPEG_AVAILABLE = String(settings.ffmpegLayerArn !== undefined);
  // functions/composition/observability.ts loads the X-Ray SDK only where this is not false.
  if (!settings.tracing) environment.POWERTOOLS_TRACE_ENABLED = 'false';
  return environment;
}
