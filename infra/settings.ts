import type { Node } from 'constructs';
import * as z from 'zod';
import { type Config, configSchema } from '../functions/config';

/** The deployment's choices, read from CDK context (cdk.json, or `-c key=value` on the command line). */
export interface StackSettings {
  provider: Config['PROVIDER'];
  /** Absent means the provider's own API (Google's, kie.ai's); the simulator always has one. */
  providerBaseUrl?: string;
  /** An existing Secrets Manager secret with the provider's credentials; absent for the simulator. */
  providerSecretArn?: string;
  vertexProject?: string;
  vertexRegion?: string;
  vertexStorageUri?: string;
  /** Upstream submits per window; absent means the provider's published quota. */
  quotaLimit?: number;
  quotaWindowSeconds?: number;
  translation: Config['TRANSLATOR'];
  /** A Lambda layer with an arm64 ffmpeg at /opt/bin/ffmpeg; absent turns watermarks and Auto crop off. */
  ffmpegLayerArn?: string;
  retentionDays: number;
  allowHttpCallbacks: boolean;
  pollIntervalSeconds: number;
  /** Upstream model ids; absent means the provider's Veo 3.1 defaults. */
  veo3ModelId?: string;
  veo3FastModelId?: string;
}

/**
 * The simulator has no public address of its own: point `providerBaseUrl` at a reachable one, or every
 * task fails once its time budget runs out.
 */
const DEFAULT_SIMULATOR_BASE_URL = 'https://simulator.invalid';

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

/**
 * Reads the context keys and validates them with the functions' own config schema, so a value the
 * functions would refuse at cold start fails `cdk synth` instead. Absent keys take the schema's
 * defaults. Values from `-c key=value` arrive as strings, values from cdk.json as JSON: both work.
 */
export function readStackSettings(node: Node): StackSettings {
  const shape = configSchema.shape;
  const parse = <S extends z.ZodType>(key: string, schema: S): z.output<S> => {
    const value: unknown = node.tryGetContext(key);
    const result = schema.safeParse(value === undefined || value === null ? undefined : String(value));
    if (!result.success) throw new Error(`Invalid CDK context "${key}": ${z.prettifyError(result.error)}`);
    return result.data;
  };

  const provider = parse('provider', shape.PROVIDER);
  const providerSecretArn = parse(
    'providerSecretArn',
    secretArn.pipe(shape.PROVIDER_SECRET_ARN.unwrap()).optional(),
  );
  if (provider !== 'simulator' && providerSecretArn === undefined) {
    throw new Error(
      `Missing CDK context "providerSecretArn": provider "${provider}" reads its credentials from an ` +
        `existing Secrets Manager secret whose value is the JSON ${providerSecretFields[provider]}. ` +
        'Create it first, then pass its ARN with -c providerSecretArn=arn:aws:secretsmanager:...',
    );
  }
  return {
    provider,
    providerBaseUrl: parse(
      'providerBaseUrl',
      provider === 'simulator'
        ? shape.PROVIDER_BASE_URL.default(DEFAULT_SIMULATOR_BASE_URL)
        : shape.PROVIDER_BASE_URL,
    ),
    providerSecretArn,
    vertexProject: parse('vertexProject', shape.VERTEX_PROJECT),
    // The functions default the region themselves; only a chosen one goes into the environment.
    vertexRegion: parse('vertexRegion', shape.VERTEX_REGION.unwrap().optional()),
    vertexStorageUri: parse('vertexStorageUri', shape.VERTEX_STORAGE_URI),
    quotaLimit: parse('quotaLimit', shape.QUOTA_LIMIT),
    quotaWindowSeconds: parse('quotaWindowSeconds', shape.QUOTA_WINDOW_SECONDS),
    // Locally prompts go as written; a deployment translates them unless told not to.
    translation: parse('translation', shape.TRANSLATOR.unwrap().default('amazon')),
    ffmpegLayerArn: parse('ffmpegLayerArn', layerVersionArn.optional()),
    retentionDays: parse('retentionDays', shape.RETENTION_DAYS),
    allowHttpCallbacks: parse('allowHttpCallbacks', shape.ALLOW_HTTP_CALLBACKS),
    pollIntervalSeconds: parse('pollIntervalSeconds', shape.POLL_INTERVAL_SECONDS),
    veo3ModelId: parse('veo3ModelId', shape.VEO3_MODEL_ID),
    veo3FastModelId: parse('veo3FastModelId', shape.VEO3_FAST_MODEL_ID),
  };
}
