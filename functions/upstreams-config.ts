import * as z from 'zod';
import { capabilityModels } from './core/capabilities';
import { providerNames } from './core/ports';

/**
 * The upstream pool's config (issue 16): UPSTREAMS, a JSON array, and CDK context `upstreams`, both parsed
 * by this one schema, so a list the functions would refuse at cold start fails `cdk synth`, naming the field.
 * Absent, the pool is one upstream built from PROVIDER and its variables (composition/settings.ts).
 */
const upstreamEntrySchema = () => {
  const secretFields = z.strictObject({
    apiKey: z.string().min(1).optional(),
    serviceAccountJson: z.string().min(1).optional(),
    webhookSecret: z.string().min(1).optional(),
  });
  return z.strictObject({
    /** Scopes the upstream's quota and circuit, labels its metrics, shown in record-info as `upstream`. */
    name: z.string().regex(/^[a-z0-9-]{1,32}$/, 'must be 1 to 32 of a-z, 0-9 and -'),
    provider: z.enum(providerNames),
    baseUrl: z.url().optional(),
    project: z.string().min(1).optional(),
    region: z.string().min(1).optional(),
    tokenUrl: z.url().optional(),
    storageUri: z.string().startsWith('gs://').optional(),
    models: z
      .strictObject({
        veo3: z.string().min(1).optional(),
        veo3_fast: z.string().min(1).optional(),
        veo3_lite: z.string().min(1).optional(),
      })
      .optional(),
    /** Deployed: a Secrets Manager secret holding {apiKey, serviceAccountJson, webhookSecret} as JSON. */
    secretArn: z.string().min(1).optional(),
    /** Local runs only: the credentials themselves. */
    secret: secretFields.optional(),
    /** gemini: ask for the Gemini API's webhooks (default GEMINI_WEBHOOKS, else on for gemini). */
    webhooks: z.boolean().optional(),
    /**
     * gemini, vertex: the key set that signs the pushes; default Google's (the Gemini API's
     * `<baseUrl>/.well-known/jwks.json`; for Vertex's Pub/Sub tokens https://www.googleapis.com/oauth2/v3/certs).
     */
    webhookJwksUrl: z.url().optional(),
    /**
     * vertex: its push (needs storageUri): the service account of the OIDC tokens the Pub/Sub push subscription
     * of the bucket's notifications sends; unset, Vertex is polled.
     */
    pushAccount: z.email().optional(),
    /** vertex: those tokens' audience; default UPSTREAM_CALLBACK_URL (the subscription's endpoint). */
    pushAudience: z.string().min(1).optional(),
    /** Submits per window; default: the provider's published quota. */
    quota: z
      // At most 1,000 per window: the rate counter's log (adapters/dynamodb/rate-counter.ts).
      .strictObject({ limit: z.number().int().min(1).max(1000), windowSeconds: z.number().positive() })
      .optional(),
    /** Lower is tried first. */
    priority: z.number().finite().default(0),
    /** Default: every model the provider serves. */
    serves: z.array(z.enum(capabilityModels)).min(1).optional(),
  });
};

export type UpstreamEntry = z.infer<ReturnType<typeof upstreamEntrySchema>>;

/**
 * Vertex AI's push is the notification of the bucket it writes the videos to: what is wrong with a push
 * account given where there is no such bucket (or no Vertex), naming the bucket's setting; else undefined.
 * One rule for a pool entry and for the deployment's own settings (infra/settings.ts).
 */
export function vertexPushProblem(
  upstream: { provider: string; storageUri?: string; pushAccount?: string },
  storageSetting = 'storageUri',
): string | undefined {
  if (!upstream.pushAccount || (upstream.provider === 'vertex' && upstream.storageUri)) return undefined;
  return `is Vertex AI's push through its bucket's notifications: it needs provider vertex and ${storageSetting}`;
}

const upstreamListSchema = () =>
  z
    .array(upstreamEntrySchema())
    .min(1)
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      for (const [index, entry] of list.entries()) {
        if (seen.has(entry.name))
          ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `"${entry.name}" is used twice` });
        seen.add(entry.name);
        if (entry.secretArn && entry.secret)
          ctx.addIssue({
            code: 'custom',
            path: [index, 'secret'],
            message: 'give secretArn or secret, not both',
          });
        const pushProblem = vertexPushProblem(entry);
        if (pushProblem) ctx.addIssue({ code: 'custom', path: [index, 'pushAccount'], message: pushProblem });
      }
    });

/** Built on the first list to parse (upstreamsSchema), not at import. */
let upstreamList: ReturnType<typeof upstreamListSchema> | undefined;

/**
 * UPSTREAMS as text (the environment, `-c upstreams=...`) or already parsed (cdk.json, a CDK app's props);
 * absent, undefined. The pool's ~95 schemas are built on the first list to parse: a function without
 * UPSTREAMS never builds them, and each schema built costs a cold start (bench/README.md, **init**).
 */
export const upstreamsSchema = z.unknown().transform((value, ctx): UpstreamEntry[] | undefined => {
  if (value === undefined) return undefined;
  let list: unknown = value;
  if (typeof value === 'string') {
    try {
      list = JSON.parse(value) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array of upstreams' });
      return z.NEVER;
    }
  }
  upstreamList ??= upstreamListSchema();
  const parsed = upstreamList.safeParse(list);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) ctx.addIssue({ ...issue });
  return z.NEVER;
});
