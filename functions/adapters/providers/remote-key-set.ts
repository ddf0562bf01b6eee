import type { JWTVerifyGetKey, JWTVerifyOptions } from 'jose/jwt/verify';

/**
 * A key set published at a URL and the RS256 JWTs its keys sign: Google's, for the Gemini API's webhooks
 * and for Pub/Sub's push tokens (Vertex AI through Cloud Storage notifications). The URL is configuration,
 * never taken from a request.
 */
export class RemoteKeySet {
  private keys?: JWTVerifyGetKey;

  constructor(private readonly url: string) {}

  /**
   * The token's claims when it verifies: RS256 by a key of the set, unexpired (5 s of clock skew), and
   * whatever `options` asks (issuer, audience); otherwise undefined (a bad signature, an unknown key,
   * expired, a claim that differs, or the key set unreachable).
   */
  async verify(
    token: string,
    now: number,
    options: Pick<JWTVerifyOptions, 'issuer' | 'audience'> = {},
  ): Promise<Record<string, unknown> | undefined> {
    if (token.split('.').length !== 3) return undefined;
    // jose is loaded on the first push, not at cold start: the worker and poller never need it.
    // Only these two of jose (its index would bundle JWE and the rest, ~60 KB, into every function).
    const [{ createRemoteJWKSet }, { jwtVerify }] = await Promise.all([
      import('jose/jwks/remote'),
      import('jose/jwt/verify'),
    ]);
    // Fetched once per container and cached (refetched for an unknown key id, at most every 30 s).
    this.keys ??= createRemoteJWKSet(new URL(this.url), { timeoutDuration: 5000 });
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        ...options,
        algorithms: ['RS256'],
        requiredClaims: ['exp'],
        currentDate: new Date(now),
        clockTolerance: 5,
      });
      return payload;
    } catch {
      return undefined;
    }
  }
}
