import { createHash, randomBytes } from 'node:crypto';
import { errors } from './errors';
import type { ApiKey, ApiKeyStore } from './ports';

/** API keys are stored only as their SHA-256 hash; the key itself is shown once, at creation. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function newApiKey(): string {
  return `veo_sk_${randomBytes(24).toString('base64url')}`;
}

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** Resolves `Authorization: Bearer <key>` to a live key, or throws the 401 error. */
export async function authenticate(apiKeys: ApiKeyStore, authorization: string | undefined): Promise<ApiKey> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match?.[1]) throw errors.unauthorized();
  const key = await apiKeys.get(hashApiKey(match[1]));
  if (!key || key.revoked) throw errors.unauthorized();
  return key;
}
