import type { RateLimit } from '../rate-window';

/** API keys as the functions read them; the operator's keys tool administers them. */
export interface ApiKey {
  keyHash: string;
  name: string;
  credits: number;
  webhookSecret: string;
  revoked?: boolean;
  /** Epoch ms; absent on keys made before it was recorded. */
  createdAt?: number;
  /** Epoch ms of the first revocation. */
  revokedAt?: number;
  /** New tasks allowed per window for this key; the deployment's default when absent. */
  rateLimit?: RateLimit;
}

export interface ApiKeyStore {
  /** Strongly consistent read: credits must be exact. */
  get(keyHash: string): Promise<ApiKey | undefined>;
  put(key: ApiKey): Promise<void>;
}

/** What an operator does to keys (the keys tool); the functions only need ApiKeyStore. */
export interface ApiKeyAdmin extends ApiKeyStore {
  /** Every key, read consistently. */
  list(): Promise<ApiKey[]>;
  /**
   * Adds `delta` credits (negative takes them away) in one atomic update and returns the new balance;
   * undefined for an unknown key. Throws InsufficientCreditsError when the balance would go below 0.
   */
  addCredits(keyHash: string, delta: number): Promise<number | undefined>;
  /** Marks the key revoked (keeping the first revocation time); false for an unknown key. */
  revoke(keyHash: string, at: number): Promise<boolean>;
  /** Replaces the key's webhook secret; false for an unknown key. */
  setWebhookSecret(keyHash: string, secret: string): Promise<boolean>;
}
