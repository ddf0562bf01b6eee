import { describe, expect, it } from 'vitest';
import { ApiKeyCache, authenticate, cachedApiKeys, hashApiKey } from './api-keys';
import type { ApiKey, ApiKeyStore } from './ports';

const key = (secret: string, extra: Partial<ApiKey> = {}): ApiKey => ({
  keyHash: hashApiKey(secret),
  name: 'test',
  credits: 100,
  webhookSecret: 'whsec_test',
  ...extra,
});

/** A store that counts its reads. */
function store(keys: ApiKey[]): ApiKeyStore & { reads: number } {
  const byHash = new Map(keys.map((k) => [k.keyHash, k]));
  return {
    reads: 0,
    async get(keyHash) {
      this.reads++;
      return byHash.get(keyHash);
    },
    async put(k) {
      byHash.set(k.keyHash, k);
    },
  };
}

describe('authenticate with an ApiKeyCache', () => {
  it('reads a live key once per TTL, and again after it', async () => {
    let now = 1_000;
    const keys = store([key('veo_sk_a')]);
    const cache = new ApiKeyCache(10_000, () => now);
    await authenticate(keys, 'Bearer veo_sk_a', cache);
    await authenticate(keys, 'Bearer veo_sk_a', cache);
    expect(keys.reads).toBe(1);
    now += 10_000;
    await authenticate(keys, 'Bearer veo_sk_a', cache);
    expect(keys.reads).toBe(2);
  });

  it('never keeps unknown or revoked keys, and keeps nothing with a TTL of 0', async () => {
    const keys = store([key('veo_sk_revoked', { revoked: true }), key('veo_sk_b')]);
    const cache = new ApiKeyCache(10_000);
    for (let i = 0; i < 2; i++) {
      await expect(authenticate(keys, 'Bearer veo_sk_unknown', cache)).rejects.toMatchObject({ code: 401 });
      await expect(authenticate(keys, 'Bearer veo_sk_revoked', cache)).rejects.toMatchObject({ code: 401 });
    }
    expect(keys.reads).toBe(4);
    const off = new ApiKeyCache(0);
    await authenticate(keys, 'Bearer veo_sk_b', off);
    await authenticate(keys, 'Bearer veo_sk_b', off);
    expect(keys.reads).toBe(6);
  });

  it('holds at most maxEntries keys, dropping the oldest', async () => {
    const keys = store([key('veo_sk_1'), key('veo_sk_2'), key('veo_sk_3')]);
    const cache = new ApiKeyCache(60_000, Date.now, 2);
    for (const k of ['veo_sk_1', 'veo_sk_2', 'veo_sk_3']) await authenticate(keys, `Bearer ${k}`, cache);
    expect(cache.get(hashApiKey('veo_sk_1'))).toBeUndefined();
    expect(cache.get(hashApiKey('veo_sk_3'))?.name).toBe('test');
  });
});

describe('cachedApiKeys (the notifier: a key read for its webhook secret)', () => {
  it('reads a key once per TTL, then sees a replaced webhook secret', async () => {
    let now = 1_000;
    const keys = store([key('veo_sk_a')]);
    const cached = cachedApiKeys(keys, new ApiKeyCache(10_000, () => now));
    const hash = hashApiKey('veo_sk_a');
    expect((await cached.get(hash))?.webhookSecret).toBe('whsec_test');
    await keys.put(key('veo_sk_a', { webhookSecret: 'whsec_new' }));
    expect((await cached.get(hash))?.webhookSecret).toBe('whsec_test');
    expect(keys.reads).toBe(1);
    now += 10_000;
    expect((await cached.get(hash))?.webhookSecret).toBe('whsec_new');
    expect(keys.reads).toBe(2);
  });

  it('reads an unknown key every time, and keeps nothing with a TTL of 0', async () => {
    const keys = store([key('veo_sk_b')]);
    const cached = cachedApiKeys(keys, new ApiKeyCache(10_000));
    expect(await cached.get('unknown')).toBeUndefined();
    expect(await cached.get('unknown')).toBeUndefined();
    expect(keys.reads).toBe(2);
    const off = cachedApiKeys(keys, new ApiKeyCache(0));
    await off.get(hashApiKey('veo_sk_b'));
    await off.get(hashApiKey('veo_sk_b'));
    expect(keys.reads).toBe(4);
  });
});
