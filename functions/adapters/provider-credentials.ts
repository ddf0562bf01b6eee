import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import * as z from 'zod';

/** The provider secret's JSON: which fields depends on the provider. Built on the first secret read (z.lazy). */
export const providerCredentialsSchema = z.lazy(() =>
  z.object({
    /** gemini: the API key; kie: the Bearer key. */
    apiKey: z.string().min(1).optional(),
    /** vertex: the service account's JSON key, as a string. */
    serviceAccountJson: z.string().min(1).optional(),
    /** kie: the HMAC key its pushes are signed with. */
    webhookSecret: z.string().min(1).optional(),
  }),
);
export type ProviderCredentials = z.infer<typeof providerCredentialsSchema>;

/**
 * Reads the provider's credentials from Secrets Manager on first use; Powertools caches them for five
 * minutes, so a rotated secret is picked up without a redeploy.
 */
export function providerSecret(arn: string): () => Promise<ProviderCredentials> {
  return async () => {
    const parsed = providerCredentialsSchema.safeParse(
      await getSecret(arn, { transform: 'json', maxAge: 300 }),
    );
    // Name the fields that are wrong, never their values.
    if (!parsed.success) {
      throw new Error(
        `the provider secret is malformed: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`,
      );
    }
    return parsed.data;
  };
}
