import * as z from 'zod';
import { ModelNotFoundError, UpstreamUnavailableError } from '../../core/errors';
import type { OperationStatus, UpstreamRequest, VideoDownload, VideoProvider } from '../../core/ports';
import { RemoteKeySet } from './remote-key-set';
import {
  apiFetch,
  checkedVideoUrl,
  header,
  type Secret,
  secretResolver,
  streamed,
  type UpstreamCall,
  UpstreamHttpError,
  withTrailingSlash,
} from './upstream-http';
import {
  EXTENSION_RESOLUTION,
  filteredStatus,
  type GeminiVideo,
  geminiInlineVideo,
  operationError,
  type VeoResolution,
  veoInstance,
} from './veo-request';

export interface GeminiProviderOptions {
  /** `gemini` for Google's API, `simulator` for this project's simulator, which speaks the same wire format. */
  name: string;
  /** Default https://generativelanguage.googleapis.com */
  baseUrl?: string;
  /** Sent as `x-goog-api-key` on every call, the video download included. */
  apiKey?: Secret;
  /** veo3_lite is optional here: without it a Lite request is refused before it is sent. */
  models: { veo3: string; veo3_fast: string; veo3_lite?: string };
  /** Default 720p. */
  resolution?: VeoResolution;
  /** Refuses video URIs a response points at (e.g. the core's URL guard); returns the problem. */
  videoUrlGuard?: (url: string) => string | undefined;
  timeoutMs?: number;
  downloadTimeoutMs?: number;
  /**
   * The Gemini API's webhooks (https://ai.google.dev/gemini-api/docs/webhooks): when set, a submit that
   * carries our push URL asks for a dynamic webhook there, and `verifyPush` accepts the deliveries.
   */
  push?: GeminiPushOptions;
}

export interface GeminiPushOptions {
  /**
   * Where the keys that sign dynamic webhooks are published (configuration, never taken from a request);
   * default `${baseUrl}/.well-known/jwks.json`, i.e. Google's
   * https://generativelanguage.googleapis.com/.well-known/jwks.json.
   */
  jwksUrl?: string;
  /** How far `webhook-timestamp` may be from our clock (default 300 s, as the docs ask). */
  maxAgeSeconds?: number;
}

export const GEMINI_BASE_URL = 'https://generativelanguage.googleapis.com';

/** The response schemas are built on first parse (z.lazy): a worker loads every provider's module and uses one. */
const operationSchema = z.lazy(() => z.object({ name: z.string().min(1) }));

const operationStatusSchema = z.lazy(() => {
  const sampleList = z.object({
    generatedSamples: z
      .array(z.object({ video: z.object({ uri: z.string().optional() }).optional() }))
      .optional(),
    raiMediaFilteredCount: z.number().optional(),
    raiMediaFilteredReasons: z.array(z.string()).optional(),
  });
  return z.object({
    name: z.string().optional(),
    done: z.boolean().optional(),
    error: z.object({ code: z.number().optional(), message: z.string().optional() }).optional(),
    // The Gemini API nests the samples under generateVideoResponse; some relays put them directly under response.
    response: sampleList.extend({ generateVideoResponse: sampleList.optional() }).optional(),
  });
});

/**
 * Veo through the Gemini API's long-running operations:
 * `POST /v1beta/models/{model}:predictLongRunning`, then `GET /v1beta/{operation name}` until `done`;
 * the video is at `response.generateVideoResponse.generatedSamples[].video.uri`, downloaded with the key.
 * The Gemini API takes no `seed` and no `generateAudio` (Veo 3 models always make audio there), so
 * neither is sent: the Gen AI SDK refuses both outside Vertex AI.
 *
 * An extension sends the source video inline as instances[0].video { encodedVideo, encoding } (the Gen
 * AI SDK's videoToMldev). Google's guide only shows the other form, { uri } of a video Veo generated
 * through the API in the last two days; so when the inline request is refused (a permanent error), the
 * source operation is looked up and, if it still shows its video, the request is sent again naming it.
 */
export class GeminiProvider implements VideoProvider {
  readonly name: string;
  private readonly baseUrl: string;
  private readonly apiKey: () => Promise<string | undefined>;
  readonly pushes: boolean;
  private readonly pushVerifier?: PushVerifier;

  constructor(private readonly options: GeminiProviderOptions) {
    this.name = options.name;
    this.baseUrl = withTrailingSlash(options.baseUrl ?? GEMINI_BASE_URL);
    this.apiKey = secretResolver(options.apiKey);
    if (options.push) {
      this.pushVerifier = new PushVerifier(
        options.push.jwksUrl ?? new URL('.well-known/jwks.json', this.baseUrl).toString(),
        options.push.maxAgeSeconds ?? 300,
      );
    }
    this.pushes = this.pushVerifier !== undefined;
  }

  async readyCredentials(): Promise<void> {
    await this.apiKey();
  }

  async submit(request: UpstreamRequest): Promise<string> {
    const extend = request.extend;
    if (!extend) return this.predict(request);
    try {
      return await this.predict(request, geminiInlineVideo(extend.video));
    } catch (error) {
      // Refused inline: name the video by the URI Veo gave it, when the source operation still shows one.
      if (error instanceof UpstreamUnavailableError) throw error;
      const uri = await this.sourceVideoUri(extend.sourceOperation);
      if (!uri) throw error;
      try {
        return await this.predict(request, { uri });
      } catch (second) {
        if (second instanceof UpstreamUnavailableError) throw second;
        throw new Error(`${errorText(error)}; by its URI: ${errorText(second)}`);
      }
    }
  }

  private async predict(request: UpstreamRequest, video?: GeminiVideo): Promise<string> {
    const model = this.options.models[request.model];
    if (!model) throw new Error(`${this.name}: no upstream model configured for ${request.model}`);
    // The Gen AI SDK's generateVideosConfigToMldev: numberOfVideos travels as sampleCount.
    const parameters: Record<string, unknown> = {
      aspectRatio: request.aspectRatio,
      // The Gemini API extends at 720p only, and wants durationSeconds 8 for an extension (it adds 7 s).
      // An asked resolution is sent as asked (the API refuses it for an extension), never replaced.
      resolution: video
        ? (request.resolution ?? EXTENSION_RESOLUTION)
        : (request.resolution ?? this.options.resolution ?? '720p'),
      durationSeconds: video ? 8 : (request.durationSeconds ?? 8),
      sampleCount: request.sampleCount ?? 1,
    };
    if (request.negativePrompt !== undefined) parameters.negativePrompt = request.negativePrompt;
    if (request.personGeneration !== undefined) parameters.personGeneration = request.personGeneration;
    const body: Record<string, unknown> = { instances: [veoInstance(request, video)], parameters };
    // A dynamic webhook: Google POSTs `video.generated` to our URL (which names the task) when it ends.
    // Beside instances and parameters, as the Gen AI SDK's generateVideosConfigToMldev puts it.
    if (this.pushVerifier && request.pushUrl)
      body.webhookConfig = { uris: [request.pushUrl], userMetadata: { taskId: request.taskId } };
    const response = await this.call(new URL(`v1beta/models/${model}:predictLongRunning`, this.baseUrl), {
      method: 'POST',
      body: JSON.stringify(body),
    }).catch((error: unknown) => {
      // Google answers a model id it does not know (a retired preview) with 404 NOT_FOUND.
      if (error instanceof UpstreamHttpError && error.status === 404)
        throw new ModelNotFoundError(model, request.model);
      throw error;
    });
    return operationSchema.parse(await response.json()).name;
  }

  /**
   * The URI of the video the source operation produced, if it is on this API's origin (Gemini keeps
   * generated videos for two days); undefined when the operation is not this API's, is gone or has none.
   */
  private async sourceVideoUri(operation: string | undefined): Promise<string | undefined> {
    if (!operation) return undefined;
    let status: OperationStatus;
    try {
      status = await this.poll(operation);
    } catch (error) {
      if (error instanceof UpstreamUnavailableError) throw error;
      return undefined;
    }
    const uri = status.state === 'done' ? status.videos[0] : undefined;
    if (!uri || !URL.canParse(uri)) return undefined;
    return new URL(uri).origin === new URL(this.baseUrl).origin ? uri : undefined;
  }

  async poll(operation: string): Promise<OperationStatus> {
    if (!/^[\w-][\w.-]*(\/[\w-][\w.-]*)*$/.test(operation))
      throw new Error(`${this.name}: malformed operation name`);
    const response = await this.call(new URL(`v1beta/${operation}`, this.baseUrl), { method: 'GET' });
    const status = operationStatusSchema.parse(await response.json());
    if (!status.done) return { state: 'pending' };
    if (status.error) return operationError(status.error);
    const samples = status.response?.generateVideoResponse ?? status.response;
    const videos = (samples?.generatedSamples ?? []).flatMap((s) => (s.video?.uri ? [s.video.uri] : []));
    if (videos.length > 0) return { state: 'done', videos };
    // A finished operation without a video is the content filter's doing.
    return filteredStatus(samples?.raiMediaFilteredReasons, samples?.raiMediaFilteredCount);
  }

  async download(video: string): Promise<VideoDownload> {
    const url = checkedVideoUrl(this.name, video, this.options.videoUrlGuard);
    // The key goes only to the API's own origin, never to a host a response pointed at.
    const sameOrigin = url.origin === new URL(this.baseUrl).origin;
    const response = await this.call(
      url,
      { method: 'GET' },
      sameOrigin,
      this.options.downloadTimeoutMs ?? 120_000,
    );
    return streamed(response);
  }

  /**
   * Whether a webhook delivery is the Gemini API's: its `webhook-signature` verifies against the
   * configured JWKS and its `webhook-timestamp` is recent. The operation and body are not needed: the
   * push is only a hint to poll the task our URL names (core/stages/push.ts).
   */
  async verifyPush(_operation: string, headers: Record<string, string | undefined>): Promise<boolean> {
    return (await this.pushVerifier?.verify(headers, Date.now())) ?? false;
  }

  private async call(url: URL, init: RequestInit, withKey = true, timeoutMs?: number): Promise<Response> {
    const apiKey = await this.apiKey();
    const call: UpstreamCall = {
      provider: this.name,
      timeoutMs: timeoutMs ?? this.options.timeoutMs ?? 30_000,
      secrets: [apiKey],
    };
    return apiFetch(call, url, init, apiKey && withKey ? { 'x-goog-api-key': apiKey } : {});
  }
}

/**
 * Dynamic webhooks' deliveries carry the Standard Webhooks headers (webhook-id, webhook-timestamp,
 * webhook-signature); their signature is an RS256 JWT by a key of Google's JWKS, not the static
 * webhooks' HMAC (https://ai.google.dev/gemini-api/docs/webhooks#verify-dynamic-signatures). We only
 * send dynamic ones (a static webhook is one project-wide URI, which cannot name our task), so only
 * the JWT is checked: RS256, a key of the configured set, unexpired; and the delivery's timestamp within
 * `maxAgeSeconds`. Which of the claims bind it to one delivery is not published; a genuine token
 * replayed in that window can only make a task poll early, which is all a push does.
 */
class PushVerifier {
  private readonly keys: RemoteKeySet;

  constructor(
    jwksUrl: string,
    private readonly maxAgeSeconds: number,
  ) {
    this.keys = new RemoteKeySet(jwksUrl);
  }

  async verify(headers: Record<string, string | undefined>, now: number): Promise<boolean> {
    const timestamp = header(headers, 'webhook-timestamp');
    const signature = header(headers, 'webhook-signature');
    if (!header(headers, 'webhook-id') || !timestamp || !signature) return false;
    if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now / 1000 - Number(timestamp)) > this.maxAgeSeconds)
      return false;
    // Space-separated entries (a rotation), each a JWT, perhaps behind a `version,` prefix.
    for (const entry of signature.split(' ')) {
      if (await this.keys.verify(entry.slice(entry.indexOf(',') + 1), now)) return true;
    }
    return false;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
