import { randomUUID } from 'node:crypto';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { isObject } from './http';
import { type Generation, postPush, type ShapeContext } from './operations';

/**
 * Google's pushes, as the simulator sends them, each signed with an RS256 JWT by a key of the simulator's
 * own set (served where Google publishes its: `/.well-known/jwks.json` for the Gemini API,
 * `/oauth2/v3/certs` for its OIDC tokens):
 * - The Gemini API's dynamic webhooks (https://ai.google.dev/gemini-api/docs/webhooks): a submit with
 *   `webhookConfig: { uris, userMetadata }` gets, when its generation ends, a JSON `video.generated` event
 *   POSTed to each uri with the Standard Webhooks headers webhook-id, webhook-timestamp and
 *   webhook-signature (the JWT). A thin payload, as Google's: pointers, not the video.
 * - Cloud Storage's Pub/Sub notifications, pushed by a subscription (`storageNotifications`): each video
 *   the Vertex shape writes under a submit's `storageUri` is an OBJECT_FINALIZE message in Pub/Sub's push
 *   envelope, POSTed with `Authorization: Bearer <OIDC token>` for the subscription's service account.
 *   Nothing is written, so nothing is pushed, for a generation that fails or is filtered.
 * A delivery answered with anything but 2xx is tried again 3 times, 1 s apart and doubling (Google retries
 * for 24 h; Pub/Sub for the message's retention).
 */

/**
 * `send` delivers as Google would; `hold` keeps deliveries until `send` again; `drop` loses them (kie's
 * callbacks too: simulator/kie.ts); `early` sends a storage notification EARLY_NOTICE_MS before its
 * generation's operation is done (the object written first, which Google does not rule out), the rest as `send`.
 */
export type PushMode = 'send' | 'hold' | 'drop' | 'early';

/** How far ahead of its operation's end an `early` storage notification goes out. */
export const EARLY_NOTICE_MS = 5000;

export interface GooglePushes {
  /** Schedules the webhook deliveries a Gemini submit asked for (nothing when it carried no webhookConfig). */
  requested(generation: Generation, body: unknown, operationName: string, videoUri?: string): void;
  /** Schedules the notifications of the objects a Vertex generation writes (`gs://` URIs) when it ends. */
  stored(generation: Generation, objects: readonly string[]): void;
  mode: PushMode;
  /** The public key set the signatures verify against. */
  keySet(): Promise<{ keys: JWK[] }>;
}

/** Where the key set is served: the Gemini API's and Google's OAuth certs. */
export const KEY_SET_PATHS = ['/.well-known/jwks.json', '/oauth2/v3/certs'];

const RETRIES = 3;
const RETRY_MS = 1000;
const TOKEN_SECONDS = 300;
const OIDC_SECONDS = 3600;
/** The issuer of Google's ID tokens, which Pub/Sub's are. */
const GOOGLE_ISSUER = 'https://accounts.google.com';

export function googlePushes(ctx: ShapeContext): GooglePushes {
  const notifications = ctx.options.storageNotifications;
  let mode: PushMode = 'send';
  const held: (() => void)[] = [];
  // Made on the first push asked for: an RSA key takes a moment to generate.
  let signer: Promise<{ privateKey: CryptoKey; jwk: JWK }> | undefined;
  const keys = () => {
    signer ??= (async () => {
      const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
      const jwk = { ...(await exportJWK(publicKey)), kid: `sim-${randomUUID()}`, alg: 'RS256', use: 'sig' };
      return { privateKey, jwk };
    })();
    return signer;
  };
  const sign = async (claims: Record<string, unknown>, lifeSeconds: number) => {
    const { privateKey, jwk } = await keys();
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'JWT' })
      .setIssuedAt(now)
      .setExpirationTime(now + lifeSeconds)
      .sign(privateKey);
  };

  /** One delivery of `event` to `url`, with the headers `headers()` makes when it goes out. */
  async function deliver(
    url: string,
    headers: () => Promise<Record<string, string>>,
    event: object,
    taskId: string,
    attempt: number,
  ): Promise<void> {
    if (mode === 'drop') return;
    const again = (delayMs: number, next = attempt) =>
      ctx.schedule(() => void deliver(url, headers, event, taskId, next), delayMs);
    if (mode === 'hold') {
      held.push(() => again(0));
      return;
    }
    // An upstream that is down sends no pushes either: this one goes out once it is back.
    if (ctx.isDown()) return again(250);
    if (await postPush(ctx, { url, taskId, attempt, body: event, headers: await headers() })) return;
    if (attempt < RETRIES) again(RETRY_MS * 2 ** attempt, attempt + 1);
  }

  return {
    get mode() {
      return mode;
    },
    set mode(next: PushMode) {
      mode = next;
      if (next === 'hold' || next === 'drop') return;
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
        const headers = async () => ({
          'webhook-id': `msg_${randomUUID()}`,
          'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
          'webhook-signature': await sign({ iss: ctx.baseUrl(), aud: uri }, TOKEN_SECONDS),
        });
        ctx.schedule(
          () => void deliver(uri, headers, event, generation.id, 0),
          generation.doneAt - Date.now(),
        );
      }
    },
    stored(generation, objects) {
      if (!notifications || generation.outcome !== 'succeeded') return;
      void keys();
      const ahead = mode === 'early' ? EARLY_NOTICE_MS : 0;
      const { endpoint, serviceAccountEmail } = notifications;
      for (const uri of objects) {
        const [, bucket = '', object = ''] = /^gs:\/\/([^/]+)\/(.+)$/.exec(uri) ?? [];
        const generationNumber = String(generation.doneAt * 1000);
        const attributes = {
          notificationConfig: `projects/_/buckets/${bucket}/notificationConfigs/1`,
          eventType: 'OBJECT_FINALIZE',
          payloadFormat: 'JSON_API_V1',
          bucketId: bucket,
          objectId: object,
          objectGeneration: generationNumber,
          eventTime: new Date(generation.doneAt).toISOString(),
        };
        const resource = { kind: 'storage#object', bucket, name: object, generation: generationNumber };
        const messageId = String(Math.floor(Math.random() * 1e15));
        const event = {
          message: {
            attributes,
            data: Buffer.from(JSON.stringify(resource)).toString('base64'),
            messageId,
            message_id: messageId,
            publishTime: attributes.eventTime,
            publish_time: attributes.eventTime,
          },
          subscription: 'projects/local-project/subscriptions/veo-videos',
        };
        const headers = async () => ({
          authorization: `Bearer ${await sign(
            {
              iss: GOOGLE_ISSUER,
              aud: notifications.audience ?? endpoint,
              email: serviceAccountEmail,
              email_verified: true,
              sub: '100000000000000000001',
              azp: '100000000000000000001',
            },
            OIDC_SECONDS,
          )}`,
        });
        ctx.schedule(
          () => void deliver(endpoint, headers, event, generation.id, 0),
          generation.doneAt - ahead - Date.now(),
        );
      }
    },
    async keySet() {
      return { keys: [(await keys()).jwk] };
    },
  };
}
