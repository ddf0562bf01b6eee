import { Readable } from 'node:stream';
import type { JWT } from 'google-auth-library';
import * as z from 'zod';
import { ModelNotFoundError, UpstreamUnavailableError } from '../../core/errors';
import type { OperationStatus, UpstreamRequest, VideoDownload, VideoProvider } from '../../core/ports';
import { RemoteKeySet } from './remote-key-set';
import {
  apiFetch,
  header,
  isTransientStatus,
  type Secret,
  secretResolver,
  shorten,
  streamed,
  type UpstreamCall,
  UpstreamHttpError,
  withTrailingSlash,
} from './upstream-http';
import {
  EXTENSION_RESOLUTION,
  filteredStatus,
  operationError,
  type VeoModel,
  type VeoResolution,
  veoInstance,
  vertexVideo,
} from './veo-request';

export interface VertexProviderOptions {
  /** Default `vertex`. */
  name?: string;
  /** The service account's JSON key, as a string (or fetched on first use). */
  serviceAccountKey: Secret;
  /** Default: the key's project_id. */
  project?: string;
  /** e.g. us-central1, or global. */
  region: string;
  /** Default https://{region}-aiplatform.googleapis.com (https://aiplatform.googleapis.com for global). */
  baseUrl?: string;
  /** Default Veo 3.1 GA: veo-3.1-generate-001, veo-3.1-fast-generate-001, veo-3.1-lite-generate-001. */
  models?: Partial<Record<VeoModel, string>>;
  /** Default 720p. */
  resolution?: VeoResolution;
  /**
   * A gs:// prefix for Vertex to write the videos to, each task's under `<storageUri>/<taskId>/`,
   * downloaded then through the Cloud Storage JSON API with the same service account. Unset: the videos
   * come back inline in the operation.
   */
  storageUri?: string;
  /** Vertex AI's push, through the bucket's notifications (needs storageUri): see VertexPushOptions. */
  push?: VertexPushOptions;
  /** Default https://storage.googleapis.com */
  storageBaseUrl?: string;
  /**
   * Where to fetch access tokens instead of https://oauth2.googleapis.com/token (the simulator's /token).
   * google-auth-library ignores a key's token_uri for service accounts, so a key whose token_uri is not a
   * Google host is honoured here too.
   */
  tokenUrl?: string;
  timeoutMs?: number;
  downloadTimeoutMs?: number;
}

/**
 * Vertex AI publishes nothing of its own when a video is done, but it writes the video into the task's
 * folder of `storageUri`: the bucket's Pub/Sub notification of that object (OBJECT_FINALIZE,
 * https://cloud.google.com/storage/docs/pubsub-notifications) reaches our upstream-callback URL through a
 * push subscription that authenticates with an OIDC token
 * (https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions). The token must be Google's, for
 * `audience`, naming `account` with a verified email. Like every push, it only makes the task it names poll
 * now. A generation that fails or is filtered writes no object, so it is noticed by the push check's polls.
 */
export interface VertexPushOptions {
  /** The service account the push subscription's tokens are made for (their `email`). */
  account: string;
  /**
   * The tokens' `aud`: the subscription's audience (by default its endpoint, our upstream-callback URL).
   * Unknown where pushes are not received (the worker only needs to know they come): nothing verifies.
   */
  audience?: string;
  /** Where Google publishes the keys that sign them; default https://www.googleapis.com/oauth2/v3/certs. */
  jwksUrl?: string;
}

export const VERTEX_DEFAULT_MODELS: Record<VeoModel, string> = {
  veo3: 'veo-3.1-generate-001',
  veo3_fast: 'veo-3.1-fast-generate-001',
  veo3_lite: 'veo-3.1-lite-generate-001',
};
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
/** Chunk size for decoding inline videos: a multiple of 4 base64 characters (48 KiB of bytes). */
const BASE64_CHUNK = 65_536;

/** The response schemas are built on first parse (z.lazy): a worker loads every provider's module and uses one. */
const serviceAccountSchema = z.lazy(() =>
  z.object({
    client_email: z.string().min(1),
    private_key: z.string().min(1),
    private_key_id: z.string().optional(),
    project_id: z.string().optional(),
    token_uri: z.string().optional(),
  }),
);

const operationSchema = z.lazy(() => z.object({ name: z.string().min(1) }));

/** Google's OIDC signing keys and the issuers its ID tokens name. */
const GOOGLE_CERTS_URL = 'https://www.googleapis.com/oauth2/v3/certs';
const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];

/** What a push reads of Pub/Sub's envelope: the Cloud Storage notification's attributes. */
const storageNotificationSchema = z.lazy(() =>
  z.object({
    message: z.object({
      attributes: z.object({ eventType: z.string(), bucketId: z.string(), objectId: z.string() }),
    }),
  }),
);

const videoSchema = z.lazy(() =>
  z.object({
    bytesBase64Encoded: z.string().optional(),
    gcsUri: z.string().optional(),
    mimeType: z.string().optional(),
  }),
);

const operationStatusSchema = z.lazy(() =>
  z.object({
    done: z.boolean().optional(),
    error: z.object({ code: z.number().optional(), message: z.string().optional() }).optional(),
    response: z
      .object({
        videos: z.array(videoSchema).optional(),
        /** Deprecated by Vertex: Cloud Storage URIs of the videos. */
        generatedSamples: z.array(z.unknown()).optional(),
        raiMediaFilteredCount: z.number().optional(),
        raiMediaFilteredReasons: z.array(z.string()).optional(),
      })
      .optional(),
  }),
);

interface Auth {
  client: JWT;
  project: string;
}

/**
 * Veo on Vertex AI: `POST .../publishers/google/models/{model}:predictLongRunning`, then
 * `POST .../models/{model}:fetchPredictOperation {operationName}` until `done`, with an OAuth access token
 * of a service account (google-auth-library's JWT flow, cloud-platform scope, cached and refreshed by it).
 * An extension is the same call with the source video inline in instances[0].video
 * ({ bytesBase64Encoded, mimeType }); the operation's video is the source and the extension together.
 *
 * Without storageUri the videos come back inline (`response.videos[].bytesBase64Encoded`). poll() returns
 * each as a `data:` URI and download() decodes it chunk by chunk: nothing but the one video the poll
 * returned is held, and no state lives between the two calls (they may run on different instances).
 */
export class VertexProvider implements VideoProvider {
  readonly name: string;
  private readonly key: () => Promise<string | undefined>;
  private auth?: Promise<Auth>;
  private readonly models: Record<VeoModel, string>;
  /** The bucket and object prefix of storageUri (`gs://bucket/a/b` → `bucket`, `a/b/`). */
  private readonly storage?: { bucket: string; prefix: string };
  private readonly pushKeys?: RemoteKeySet;
  readonly pushes: boolean;

  constructor(private readonly options: VertexProviderOptions) {
    this.name = options.name ?? 'vertex';
    this.key = secretResolver(options.serviceAccountKey);
    this.models = { ...VERTEX_DEFAULT_MODELS, ...options.models };
    const storage = options.storageUri ? gcsLocation(options.storageUri) : undefined;
    if (storage)
      this.storage = { bucket: storage.bucket, prefix: storage.object && withTrailingSlash(storage.object) };
    if (options.push && !this.storage) throw new Error(`${this.name}: a push needs storageUri`);
    if (options.push) this.pushKeys = new RemoteKeySet(options.push.jwksUrl ?? GOOGLE_CERTS_URL);
    this.pushes = this.pushKeys !== undefined;
  }

  async submit(request: UpstreamRequest): Promise<string> {
    const { project } = await this.authorize();
    const model = this.models[request.model];
    const extend = request.extend;
    const parameters: Record<string, unknown> = {
      aspectRatio: request.aspectRatio,
      seed: request.seed,
      // An extension adds 7 seconds to the video, at 720p (see EXTENSION_RESOLUTION); an asked resolution
      // is sent as asked (Vertex refuses it for an extension), never replaced.
      resolution: extend
        ? (request.resolution ?? EXTENSION_RESOLUTION)
        : (request.resolution ?? this.options.resolution ?? '720p'),
      durationSeconds: extend ? 7 : (request.durationSeconds ?? 8),
      generateAudio: request.generateAudio ?? true,
      sampleCount: request.sampleCount ?? 1,
    };
    if (request.negativePrompt !== undefined) parameters.negativePrompt = request.negativePrompt;
    if (request.personGeneration !== undefined) parameters.personGeneration = request.personGeneration;
    if (this.storage)
      parameters.storageUri = `gs://${this.storage.bucket}/${this.storage.prefix}${request.taskId}/`;
    const instance = veoInstance(request, extend && vertexVideo(extend.video));
    const path = `v1/projects/${project}/locations/${this.options.region}/publishers/google/models/${model}:predictLongRunning`;
    const response = await this.call(new URL(path, this.baseUrl()), {
      method: 'POST',
      body: JSON.stringify({ instances: [instance], parameters }),
    }).catch((error: unknown) => {
      // Google answers a model id it does not know (a retired one) with 404 NOT_FOUND.
      if (error instanceof UpstreamHttpError && error.status === 404)
        throw new ModelNotFoundError(model, request.model);
      throw error;
    });
    return operationSchema.parse(await response.json()).name;
  }

  /**
   * Whether a push is the bucket's notification as our subscription sends it: a Google OIDC token in
   * `authorization`, for our audience, made for the configured account.
   */
  async verifyPush(_operation: string, headers: Record<string, string | undefined>): Promise<boolean> {
    const push = this.options.push;
    const token = /^Bearer (\S+)$/i.exec(header(headers, 'authorization') ?? '')?.[1];
    if (!push?.audience || !this.pushKeys || !token) return false;
    const claims = await this.pushKeys.verify(token, Date.now(), {
      issuer: GOOGLE_ISSUERS,
      audience: push.audience,
    });
    return claims?.email === push.account && claims.email_verified === true;
  }

  /** The task whose folder a notified object is in: `<prefix><taskId>/...` of our bucket, once written. */
  pushedTask(body: unknown): string | undefined {
    const parsed = storageNotificationSchema.safeParse(body);
    if (!parsed.success || !this.pushes || !this.storage) return undefined;
    const { eventType, bucketId, objectId } = parsed.data.message.attributes;
    if (eventType !== 'OBJECT_FINALIZE' || bucketId !== this.storage.bucket) return undefined;
    if (!objectId.startsWith(this.storage.prefix)) return undefined;
    return objectId.slice(this.storage.prefix.length).split('/')[0] || undefined;
  }

  async readyCredentials(): Promise<void> {
    await this.accessToken(); // cached by the library until close to its expiry, then refreshed here
  }

  async poll(operation: string): Promise<OperationStatus> {
    const resource =
      /^(projects\/[\w-]+\/locations\/[\w-]+\/publishers\/google\/models\/[\w-][\w.-]*)\/operations\/[\w-]+$/.exec(
        operation,
      )?.[1];
    if (!resource) throw new Error(`${this.name}: malformed operation name`);
    const response = await this.call(new URL(`v1/${resource}:fetchPredictOperation`, this.baseUrl()), {
      method: 'POST',
      body: JSON.stringify({ operationName: operation }),
    });
    const status = operationStatusSchema.parse(await response.json());
    if (!status.done) return { state: 'pending' };
    if (status.error) return operationError(status.error);
    const result = status.response;
    const videos = (result?.videos ?? []).flatMap((video) => {
      if (video.gcsUri) return [video.gcsUri];
      if (video.bytesBase64Encoded)
        return [`data:${video.mimeType ?? 'video/mp4'};base64,${video.bytesBase64Encoded}`];
      return [];
    });
    for (const sample of result?.generatedSamples ?? []) if (typeof sample === 'string') videos.push(sample);
    if (videos.length > 0) return { state: 'done', videos };
    return filteredStatus(result?.raiMediaFilteredReasons, result?.raiMediaFilteredCount);
  }

  async download(video: string): Promise<VideoDownload> {
    const inline = /^data:([^;,]+);base64,/.exec(video);
    if (inline)
      return {
        body: Readable.from(decodeBase64(video, inline[0].length)),
        contentType: inline[1] ?? 'video/mp4',
      };
    const gcs = gcsLocation(video);
    if (!gcs?.object) throw new Error(`${this.name}: unsupported video reference`);
    const base = withTrailingSlash(this.options.storageBaseUrl ?? 'https://storage.googleapis.com');
    const url = new URL(`storage/v1/b/${gcs.bucket}/o/${encodeURIComponent(gcs.object)}?alt=media`, base);
    const response = await this.call(url, { method: 'GET' }, this.options.downloadTimeoutMs ?? 120_000);
    return streamed(response);
  }

  private baseUrl(): string {
    const region = this.options.region;
    const fallback =
      region === 'global'
        ? 'https://aiplatform.googleapis.com'
        : `https://${region}-aiplatform.googleapis.com`;
    return withTrailingSlash(this.options.baseUrl ?? fallback);
  }

  private async call(url: URL, init: RequestInit, timeoutMs?: number): Promise<Response> {
    const token = await this.accessToken();
    const call: UpstreamCall = {
      provider: this.name,
      timeoutMs: timeoutMs ?? this.options.timeoutMs ?? 30_000,
      secrets: [token],
    };
    return apiFetch(call, url, init, { authorization: `Bearer ${token}` });
  }

  private authorize(): Promise<Auth> {
    this.auth ??= this.createAuth().catch((error: unknown) => {
      this.auth = undefined; // a failed secret fetch or a bad key is looked at again next time
      throw error;
    });
    return this.auth;
  }

  private async createAuth(): Promise<Auth> {
    const raw = await this.key();
    if (!raw) throw new Error(`${this.name}: no service account key configured`);
    let parsed: z.infer<typeof serviceAccountSchema>;
    try {
      parsed = serviceAccountSchema.parse(JSON.parse(raw));
    } catch {
      // The message must not echo the key.
      throw new Error(
        `${this.name}: the service account key is not a JSON key with client_email and private_key`,
      );
    }
    // Loaded on first use, so functions wired to other providers never pay for it at cold start.
    const { JWT } = await import('google-auth-library');
    const client = new JWT({
      email: parsed.client_email,
      key: parsed.private_key,
      keyId: parsed.private_key_id,
      scopes: [CLOUD_PLATFORM],
    });
    const tokenUrl = this.options.tokenUrl ?? nonGoogleTokenUri(parsed.token_uri);
    if (tokenUrl) {
      // The library posts to Google's token URL whatever the key says; send that request elsewhere.
      client.transporter.interceptors.request.add({
        resolved: async (request) => {
          if (request.url.toString() === GOOGLE_TOKEN_URL) request.url = new URL(tokenUrl);
          return request;
        },
      });
    }
    const project = this.options.project ?? parsed.project_id;
    if (!project) throw new Error(`${this.name}: no project configured and none in the service account key`);
    return { client, project };
  }

  private async accessToken(): Promise<string> {
    const { client } = await this.authorize();
    try {
      const { token } = await client.getAccessToken();
      if (!token) throw new Error('no access token returned');
      return token;
    } catch (error) {
      const detail = shorten(error instanceof Error ? error.message : String(error));
      // gaxios errors carry the request config; anything else (a key that cannot sign) is ours to fix.
      if (!(typeof error === 'object' && error !== null && 'config' in error)) {
        throw new Error(`${this.name}: cannot get an access token: ${detail}`);
      }
      const { status, response } = error as { status?: number; response?: { status?: number } };
      const httpStatus = status ?? response?.status;
      if (httpStatus === undefined || isTransientStatus(httpStatus)) {
        throw new UpstreamUnavailableError(`${this.name}: access token unavailable: ${detail}`);
      }
      throw new Error(`${this.name}: access token refused (HTTP ${httpStatus}): ${detail}`);
    }
  }
}

function nonGoogleTokenUri(tokenUri: string | undefined): string | undefined {
  if (!tokenUri || !URL.canParse(tokenUri)) return undefined;
  const host = new URL(tokenUri).hostname;
  return host.endsWith('.googleapis.com') || host.endsWith('.google.com') ? undefined : tokenUri;
}

/** Decodes the base64 after `offset` in slices, so the decoded video is never whole in memory. */
/** A `gs://bucket/object` URI's parts (the object '' for the bucket itself), or undefined. */
function gcsLocation(uri: string): { bucket: string; object: string } | undefined {
  const match = /^gs:\/\/([^/]+)\/?(.*)$/.exec(uri);
  return match?.[1] === undefined ? undefined : { bucket: match[1], object: match[2] ?? '' };
}

function* decodeBase64(text: string, offset: number): Generator<Buffer> {
  for (let start = offset; start < text.length; start += BASE64_CHUNK) {
    yield Buffer.from(text.slice(start, start + BASE64_CHUNK), 'base64');
  }
}
