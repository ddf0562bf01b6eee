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

/**
 * Keys this instance authenticated recently, each trusted for `ttlMs` (a warm Lambda container keeps it
 * across requests). Only live keys are kept; unknown and revoked ones are read again every time. Holds at
 * most `maxEntries` keys, dropping the oldest.
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, { key: ApiKey; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 1000,
  ) {}

  get(keyHash: string): ApiKey | undefined {
    const entry = this.entries.get(keyHash);
    if (entry && entry.until > this.now()) return entry.key;
    if (entry) this.entries.delete(keyHash);
    return undefined;
  }

  set(key: ApiKey): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(key.keyHash);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key.keyHash, { key, until: this.now() + this.ttlMs });
  }
}

/**
 * `store` with its reads kept in `cache`: for the notifier, which needs a key only for its webhook secret
 * (a warm notifier signs a key's callbacks without reading it again: issue 17). Kept as authenticate keeps
 * keys (readKey). Not for credits, which must be read exactly; a replaced webhook secret is used once the
 * entry's TTL is over.
 */
export function cachedApiKeys(store: ApiKeyStore, cache: ApiKeyCache): ApiKeyStore {
  return { get: (keyHash) => readKey(store, keyHash, cache), put: (key) => store.put(key) };
}

/** The key from `cache` when it holds it, else read; a live key read is kept (unknown and revoked are not). */
async function readKey(
  store: ApiKeyStore,
  keyHash: string,
  cache?: ApiKeyCache,
): Promise<ApiKey | undefined> {
  const cached = cache?.get(keyHash);
  if (cached) return cached;
  const key = await store.get(keyHash);
  if (key && !key.revoked) cache?.set(key);
  return key;
}

/** Resolves `Authorization: Bearer <key>` to a live key (from `cache` when it holds it), or throws the 401 error. */
export async function authenticate(
  apiKeys: ApiKeyStore,
  authorization: string | undefined,
  cache?: ApiKeyCache,
): Promise<ApiKey> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match?.[1]) throw errors.unauthorized();
  const key = await readKey(apiKeys, hashApiKey(match[1]), cache);
  if (!key || key.revoked) throw errors.unauthorized();
  return key;
}

/**
 * The IAM principal API Gateway verified (requestContext.authorizer.iam.userArn) as the API key it is
 * mapped to (IAM_PRINCIPALS: principal ARN → key hash). A role's session
 * (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`, what a Lambda or a state machine calls as) is
 * looked up as its role, `arn:aws:iam::ACCOUNT:role/ROLE`. Unmapped, unknown or revoked: the 401 error.
 */
export async function authenticateIam(
  apiKeys: ApiKeyStore,
  principalArn: string | undefined,
  principals: Readonly<Record<string, string>>,
  cache?: ApiKeyCache,
): Promise<ApiKey> {
  const arn = principalArn && roleArnOf(principalArn);
  const keyHash = arn ? (principals[arn] ?? principals[principalArn]) : undefined;
  if (!keyHash) throw errors.iamUnmapped();
  const key = await readKey(apiKeys, keyHash, cache);
  if (!key || key.revoked) throw errors.iamUnmapped();
  return key;
}

/** `arn:aws:sts::123:assumed-role/Name/session` → `arn:aws:iam::123:role/Name`; other ARNs as they are. */
export function roleArnOf(arn: string): string {
  const match = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(arn);
  return match ? `arn:${match[1]}:iam::${match[2]}:role/${match[3]}` : arn;
}
