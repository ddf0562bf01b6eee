import type { Node } from 'constructs';
import { z } from 'zod';
import { type Config, configSchema } from '../functions/config';

/** The deployment's choices, read from CDK context (cdk.json, or `-c key=value` on the command line). */
export interface StackSettings {
  provider: Config['PROVIDER'];
  providerBaseUrl: string;
  retentionDays: number;
  allowHttpCallbacks: boolean;
  pollIntervalSeconds: number;
  /** Upstream model ids; absent means the provider's Veo 3.1 defaults. */
  veo3ModelId?: string;
  veo3FastModelId?: string;
}

/**
 * Until a real provider (Vertex AI, Gemini API, kie.ai) arrives, only the simulator exists: point
 * `providerBaseUrl` at a reachable simulator, or every task fails once its time budget runs out.
 */
const DEFAULT_PROVIDER_BASE_URL = 'https://simulator.invalid';

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
  return {
    provider: parse('provider', shape.PROVIDER),
    providerBaseUrl: parse('providerBaseUrl', shape.PROVIDER_BASE_URL.default(DEFAULT_PROVIDER_BASE_URL)),
    retentionDays: parse('retentionDays', shape.RETENTION_DAYS),
    allowHttpCallbacks: parse('allowHttpCallbacks', shape.ALLOW_HTTP_CALLBACKS),
    pollIntervalSeconds: parse('pollIntervalSeconds', shape.POLL_INTERVAL_SECONDS),
    veo3ModelId: parse('veo3ModelId', shape.VEO3_MODEL_ID),
    veo3FastModelId: parse('veo3FastModelId', shape.VEO3_FAST_MODEL_ID),
  };
}
