import { randomBytes, verify } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { failedOperation, filteredReason, googleError, refused, veoSubmit } from './google';
import type { GooglePushes } from './google-pushes';
import { bearer, isObject, type Route, type SimRequest, sendJson } from './http';
import { type Generation, type ShapeContext, sampleBytes, sendSample } from './operations';

/**
 * Vertex AI's Veo wire format ({region}-aiplatform.googleapis.com) and the OAuth token endpoint that
 * google-auth-library's service-account flow calls:
 *   POST /token  grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<RS256 JWT>
 *        → { access_token, expires_in, token_type: "Bearer" }
 *   POST /v1/projects/{p}/locations/{r}/publishers/google/models/{model}:predictLongRunning
 *        → { name: "projects/{p}/locations/{r}/publishers/google/models/{model}/operations/{id}" }
 *   POST /v1/projects/{p}/locations/{r}/publishers/google/models/{model}:fetchPredictOperation {operationName}
 *        → { name } until { name, done: true, response: { videos: [{ bytesBase64Encoded | gcsUri, mimeType }] } }
 *   GET  /storage/v1/b/{bucket}/o/{object}?alt=media   (Cloud Storage JSON API, when storageUri was given)
 * `[blocked]` in a prompt ends the operation with the INVALID_ARGUMENT error Vertex uses for safety blocks.
 * A video extension is the same submit with instances[0].video { bytesBase64Encoded | gcsUri, mimeType:
 * "video/mp4" } (the inline bytes must be an MP4) and durationSeconds 7; it ends with the sample video.
 */

const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const responseType = 'type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse';
const modelPath = '^/v1/(projects/[^/]+/locations/[^/]+/publishers/google/models/([^/:]+))';

export function vertexRoutes(ctx: ShapeContext, pushes?: GooglePushes): Route[] {
  const tokens = new Map<string, number>(); // access token → expiry (ms)

  function authorized(req: SimRequest, res: ServerResponse): boolean {
    const token = bearer(req);
    const expiresAt = token ? tokens.get(token) : undefined;
    if (expiresAt !== undefined && expiresAt > Date.now()) {
      req.record.auth = 'valid';
      return true;
    }
    req.record.auth = token ? 'invalid' : 'missing';
    googleError(
      res,
      401,
      'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
    );
    return false;
  }

  function issueToken(req: SimRequest, res: ServerResponse): void {
    req.record.auth = 'not-required';
    const form = isObject(req.body) ? req.body : {};
    if (form.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      oauthError(res, 'unsupported_grant_type', `Invalid grant_type: ${String(form.grant_type ?? '')}`);
      return;
    }
    const problem = checkAssertion(String(form.assertion ?? ''), ctx);
    if (problem) {
      oauthError(res, problem.error, problem.description);
      return;
    }
    ctx.stats.tokens++;
    const ttl = ctx.options.tokenTtlSeconds ?? 3599;
    const token = `ya29.sim-${randomBytes(24).toString('base64url')}`;
    tokens.set(token, Date.now() + ttl * 1000);
    sendJson(res, 200, { access_token: token, expires_in: ttl, token_type: 'Bearer' });
  }

  async function finished(name: string, generation: Generation) {
    if (generation.outcome === 'failed') return failedOperation(name);
    if (generation.outcome === 'rejected' && generation.prompt.includes('[blocked]')) {
      return {
        name,
        done: true,
        error: {
          code: 3,
          message:
            "The prompt could not be submitted. This prompt contains sensitive words that violate Google's Responsible AI practices. Try rephrasing the prompt. Support codes: 17301594",
        },
      };
    }
    if (generation.outcome === 'rejected') {
      return {
        name,
        done: true,
        response: {
          '@type': responseType,
          raiMediaFilteredCount: 1,
          raiMediaFilteredReasons: [filteredReason],
        },
      };
    }
    const objects = storedObjects(generation);
    const inline = objects ? undefined : (await sampleBytes(generation)).toString('base64');
    const videos = objects
      ? objects.map((gcsUri) => ({ gcsUri, mimeType: 'video/mp4' }))
      : Array.from({ length: generation.samples }, () => ({
          bytesBase64Encoded: inline,
          mimeType: 'video/mp4',
        }));
    return { name, done: true, response: { '@type': responseType, raiMediaFilteredCount: 0, videos } };
  }

  return [
    {
      shape: 'vertex',
      kind: 'token',
      method: 'POST',
      pattern: /^\/token$/,
      handle: issueToken,
    },
    {
      shape: 'vertex',
      kind: 'submit',
      method: 'POST',
      pattern: new RegExp(`${modelPath}:predictLongRunning$`),
      handle(req, res, match) {
        if (!authorized(req, res)) return;
        const quotaMessage = `Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model with base model: ${match[2]}. Please submit a quota increase request.`;
        if (refused(res, ctx.generations.refusal('vertex', 'submit'), quotaMessage)) return;
        ctx.stats.submits++;
        if (ctx.options.retiredModels?.includes(match[2] ?? '')) {
          return googleError(
            res,
            404,
            `Publisher Model \`${match[1]}\` was not found or your project does not have access to it. Please ensure you are using a valid model version.`,
          );
        }
        const submit = veoSubmit(req, res, 'vertex', match[2] ?? '');
        if (!submit) return;
        const { seed, generateAudio, storageUri } = submit.parameters;
        if (
          seed !== undefined &&
          (!Number.isInteger(seed) || Number(seed) < 0 || Number(seed) > 4294967295)
        ) {
          return googleError(res, 400, 'seed must be an integer from 0 to 4294967295');
        }
        if (generateAudio !== undefined && typeof generateAudio !== 'boolean') {
          return googleError(res, 400, 'generateAudio must be a boolean');
        }
        if (storageUri !== undefined && !(typeof storageUri === 'string' && storageUri.startsWith('gs://'))) {
          return googleError(res, 400, 'storageUri must be a gs:// URI');
        }
        const generation = ctx.generations.create(
          'vertex',
          { model: match[2] ?? '', ...submit.fields, video: submit.output, samples: submit.samples },
          { storageUri, extension: submit.video?.kind },
        );
        req.record.id = generation.id;
        const objects = storedObjects(generation);
        if (objects) pushes?.stored(generation, objects);
        return sendJson(res, 200, { name: `${match[1]}/operations/${generation.id}` });
      },
    },
    {
      shape: 'vertex',
      kind: 'poll',
      method: 'POST',
      pattern: new RegExp(`${modelPath}:fetchPredictOperation$`),
      idOf: (req) =>
        isObject(req.body) && typeof req.body.operationName === 'string'
          ? req.body.operationName.split('/').at(-1)
          : undefined,
      async handle(req, res, match) {
        if (!authorized(req, res)) return;
        if (refused(res, ctx.generations.refusal('vertex', 'poll'))) return;
        ctx.stats.polls++;
        const name = isObject(req.body) ? req.body.operationName : undefined;
        if (typeof name !== 'string') return googleError(res, 400, 'operationName is required');
        const prefix = `${match[1]}/operations/`;
        const generation = name.startsWith(prefix)
          ? ctx.generations.get(name.slice(prefix.length), 'vertex')
          : undefined;
        if (!generation || generation.model !== match[2])
          return googleError(res, 404, 'Operation not found.');
        if (!ctx.generations.polled(generation)) return sendJson(res, 200, { name });
        return sendJson(res, 200, await finished(name, generation));
      },
    },
    {
      shape: 'vertex',
      kind: 'download',
      method: 'GET',
      pattern: /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/,
      idOf: (_req, match) => sampleId(decodeURIComponent(match[2] ?? '')),
      async handle(req, res, match) {
        if (!authorized(req, res)) return;
        const object = decodeURIComponent(match[2] ?? '');
        const id = sampleId(object);
        const generation = id ? ctx.generations.get(id, 'vertex') : undefined;
        const storageUri = generation?.details.storageUri;
        const expected =
          typeof storageUri === 'string' ? storageUri.replace(/^gs:\/\//, '').split('/')[0] : undefined;
        if (!generation || expected !== match[1] || req.url.searchParams.get('alt') !== 'media') {
          return googleError(res, 404, `No such object: ${match[1]}/${object}`);
        }
        ctx.stats.downloads++;
        await sendSample(res, generation, ctx.options.videoBytes);
      },
    },
  ];
}

function oauthError(res: ServerResponse, error: string, description: string): void {
  sendJson(res, 400, { error, error_description: description });
}

/** The checks Google's token endpoint makes on a service account's JWT assertion. */
function checkAssertion(
  assertion: string,
  ctx: ShapeContext,
): { error: string; description: string } | undefined {
  const [header, payload, signature] = assertion.split('.');
  if (!header || !payload || !signature) return { error: 'invalid_grant', description: 'Invalid JWT.' };
  let claims: Record<string, unknown>;
  try {
    const head = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (head.alg !== 'RS256')
      return { error: 'invalid_grant', description: 'Invalid JWT: unsupported algorithm.' };
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return { error: 'invalid_grant', description: 'Invalid JWT.' };
  }
  const account = ctx.options.vertexServiceAccount;
  if (account) {
    const valid =
      claims.iss === account.clientEmail &&
      verify(
        'RSA-SHA256',
        Buffer.from(`${header}.${payload}`),
        account.publicKey,
        Buffer.from(signature, 'base64url'),
      );
    if (!valid) return { error: 'invalid_grant', description: 'Invalid JWT Signature.' };
  }
  if (claims.aud !== GOOGLE_TOKEN_URL && claims.aud !== `${ctx.baseUrl()}/token`) {
    return {
      error: 'invalid_grant',
      description: `Invalid JWT: Failed audience check. The right audience is ${GOOGLE_TOKEN_URL}`,
    };
  }
  const now = Date.now() / 1000;
  const iat = Number(claims.iat);
  const exp = Number(claims.exp);
  if (!(iat <= now + 60 && exp > now && exp - iat <= 3600)) {
    return {
      error: 'invalid_grant',
      description:
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
    };
  }
  const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
  if (!scopes.includes(CLOUD_PLATFORM)) {
    return { error: 'invalid_scope', description: 'Invalid OAuth scope or ID token audience provided.' };
  }
  return undefined;
}

/** Where a generation with a storageUri writes its videos (`<storageUri>/<id>/sample_<n>.mp4`); else undefined. */
function storedObjects(generation: Generation): string[] | undefined {
  const storageUri = generation.details.storageUri;
  if (typeof storageUri !== 'string') return undefined;
  return Array.from(
    { length: generation.samples },
    (_, index) => `${storageUri.replace(/\/+$/, '')}/${generation.id}/sample_${index}.mp4`,
  );
}

/** The generation of a stored sample's object name (`.../<generation id>/sample_0.mp4`). */
function sampleId(object: string): string | undefined {
  return /([0-9a-f-]{36})\/sample_\d+\.mp4$/.exec(object)?.[1];
}
