import { randomUUID } from 'node:crypto';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { isObject } from './http';
import type { Generation, ShapeContext } from './operations';

/**
 * The Gemini API's dynamic webhooks (https://ai.google.dev/gemini-api/docs/webhooks), as the simulator
 * sends them: a submit with `webhookConfig: { uris, userMetadata }` gets, when its generation ends, a
 * JSON `video.generated` event POSTed to each uri with the Standard Webhooks headers webhook-id,
 * webhook-timestamp and webhook-signature, the signature an RS256 JWT by a key of the simulator's own set
 * (`GET /.well-known/jwks.json`, where Google publishes its). A thin payload, as Google's: pointers, not
 * the video. A delivery answered with anything but 2xx is tried again 3 times, 1 s apart and doubling
 * (Google retries for 24 h).
 */

/**
 * `send` delivers as Google would; `hold` keeps deliveries until `send` again; `drop` loses them (kie's
 * callbacks too: simulator/kie.ts).
 */
export type PushMode = 'send' | 'hold' | 'drop';

export interface GeminiWebhooks {
  /** Schedules the deliveries a submit asked for (nothing when it carried no webhookConfig). */
  requested(generation: Generation, body: unknown, operationName: string, videoUri?: string): void;
  mode: PushMode;
  /** The public key set the signatures verify against (served at /.well-known/jwks.json). */
  keySet(): Promise<{ keys: JWK[] }>;
}

const RETRIES = 3;
const RETRY_MS = 1000;
const TIMEOUT_MS = 15_000;
const TOKEN_SECONDS = 300;

export function geminiWebhooks(ctx: ShapeContext): GeminiWebhooks {
  let mode: PushMode = 'send';
  const held: (() => void)[] = [];
  // Made on the first webhook asked for: an RSA key takes a moment to generate.
  let signer: Promise<{ privateKey: CryptoKey; jwk: JWK }> | undefined;
  const keys = () => {
    signer ??= (async () => {
      const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
      const jwk = { ...(await exportJWK(publicKey)), kid: `sim-${randomUUID()}`, alg: 'RS256', use: 'sig' };
      return { privateKey, jwk };
    })();
    return signer;
  };

  async function deliver(url: string, event: object, taskId: string, attempt: number): Promise<void> {
    if (mode === 'drop') return;
    if (mode === 'hold') {
      held.push(() => void deliver(url, event, taskId, attempt));
      return;
    }
    // An upstream that is down sends no pushes either: this one goes out once it is back.
    if (ctx.isDown()) return ctx.schedule(() => void deliver(url, event, taskId, attempt), 250);
    const { privateKey, jwk } = await keys();
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'JWT' })
      .setIssuer(ctx.baseUrl())
      .setAudience(url)
      .setIssuedAt(now)
      .setExpirationTime(now + TOKEN_SECONDS)
      .sign(privateKey);
    const body = JSON.stringify(event);
    const entry: (typeof ctx.callbacks)[number] = { at: Date.now(), url, taskId, attempt, body: event };
    ctx.callbacks.push(entry);
    ctx.stats.callbacks++;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': `msg_${randomUUID()}`,
          'webhook-timestamp': String(now),
          'webhook-signature': token,
        },
        body,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      await response.arrayBuffer();
      entry.status = response.status;
      if (response.ok) return;
    } catch (error) {
      entry.error = (error as Error).message;
    }
    if (attempt < RETRIES) {
      ctx.schedule(() => void deliver(url, event, taskId, attempt + 1), RETRY_MS * 2 ** attempt);
    }
  }

  return {
    get mode() {
      return mode;
    },
    set mode(next: PushMode) {
      mode = next;
      if (next !== 'send') return;
      for (const release of held.splice(0)) release();
    },
    requested(generation, body, operationName, videoUri) {
      const config = isObject(body) && isObject(body.webhookConfig) ? body.webhookConfig : undefined;
      const uris = Array.isArray(config?.uris)
        ? config.uris.filter((uri): uri is string => typeof uri === 'string' && URL.canParse(uri))
        : [];
      if (uris.length === 0) return;
      generation.details.webhookUris = uris;
      const event = {
        type: 'video.generated',
        version: 'v1',
        timestamp: new Date(generation.doneAt).toISOString(),
        data: {
          id: operationName,
          ...(generation.outcome === 'succeeded'
            ? { video_uri: videoUri }
            : { error_code: generation.outcome === 'rejected' ? 400 : 500 }),
        },
        ...(isObject(config?.userMetadata) && { user_metadata: config.userMetadata }),
      };
      // Signed ahead, so the first delivery is not late by the key's making.
      void keys();
      for (const uri of uris) {
        ctx.schedule(() => void deliver(uri, event, generation.id, 0), generation.doneAt - Date.now());
      }
    },
    async keySet() {
      return { keys: [(await keys()).jwk] };
    },
  };
}
