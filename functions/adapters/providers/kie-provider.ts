import { createHmac, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import { ModelNotFoundError, UpstreamUnavailableError } from '../../core/errors';
import type { OperationStatus, UpstreamRequest, VideoDownload, VideoProvider } from '../../core/ports';
import {
  apiFetch,
  checkedVideoUrl,
  header,
  type Secret,
  secretResolver,
  shorten,
  streamed,
  type UpstreamCall,
  upstreamFetch,
  withTrailingSlash,
} from './upstream-http';
import type { VeoModel } from './veo-request';

export interface KieProviderOptions {
  /** Default `kie`. */
  name?: string;
  /** Default https://api.kie.ai */
  baseUrl?: string;
  apiKey: Secret;
  /** kie's webhook HMAC key (its settings page); without it pushes are ignored and polling alone is used. */
  webhookSecret?: Secret;
  /** kie's model names behind ours; default the same names (veo3, veo3_fast, veo3_lite). */
  models?: Partial<Record<VeoModel, string>>;
  /** kie's extend-API model names behind ours; default veo3 → quality, veo3_fast → fast (none for Lite). */
  extendModels?: Partial<Record<VeoModel, string>>;
  /** How old a push's X-Webhook-Timestamp may be (default 300 s). */
  pushMaxAgeSeconds?: number;
  /** Refuses result URLs kie points at (e.g. the core's URL guard); returns the problem. */
  videoUrlGuard?: (url: string) => string | undefined;
  timeoutMs?: number;
  downloadTimeoutMs?: number;
}

export const KIE_BASE_URL = 'https://api.kie.ai';

/**
 * kie answers `{ code, msg, data }`; the envelope code, not always the HTTP status, carries the outcome.
 * The response schemas are built on first parse (z.lazy): a worker loads every provider's module and uses one.
 */
const envelopeSchema = z.lazy(() =>
  z.object({ code: z.number(), msg: z.string().nullish(), data: z.unknown() }),
);
const submittedSchema = z.lazy(() => z.object({ taskId: z.string().min(1) }));
const recordSchema = z.lazy(() =>
  z.object({
    successFlag: z.coerce.number(),
    response: z
      .object({ resultUrls: z.array(z.string()).nullish(), fullResultUrls: z.array(z.string()).nullish() })
      .nullish(),
    errorCode: z.coerce.number().nullish(),
    errorMessage: z.string().nullish(),
  }),
);

/** kie's extend API names its models differently from its generate API, and has no Lite. */
const extendModels: Partial<Record<VeoModel, string>> = { veo3: 'quality', veo3_fast: 'fast' };

/** Envelope codes that mean "not now": rate limit, maintenance, server error. */
const transientCodes = new Set([429, 455, 500, 503]);

/**
 * Veo 3.1 through kie.ai: `POST /api/v1/veo/generate` (our upstream-callback URL as callBackUrl), then
 * `GET /api/v1/veo/record-info?taskId=` until successFlag leaves 0. The operation is kie's taskId.
 * Prompts arrive already translated and watermarks are stamped by us, so neither is left to kie.
 * Extensions go to `POST /api/v1/veo/extend` and are polled the same way.
 */
export class KieProvider implements VideoProvider {
  readonly name: string;
  private readonly baseUrl: string;
  private readonly apiKey: () => Promise<string | undefined>;
  private readonly webhookSecret: () => Promise<string | undefined>;
  /** kie.ai calls back every task given a callBackUrl; we can verify it only with the webhook secret. */
  readonly pushes: boolean;

  constructor(private readonly options: KieProviderOptions) {
    this.name = options.name ?? 'kie';
    this.baseUrl = withTrailingSlash(options.baseUrl ?? KIE_BASE_URL);
    this.apiKey = secretResolver(options.apiKey);
    this.webhookSecret = secretResolver(options.webhookSecret);
    this.pushes = options.webhookSecret !== undefined;
  }

  async readyCredentials(): Promise<void> {
    await this.apiKey();
  }

  async submit(request: UpstreamRequest): Promise<string> {
    if (request.extend) return this.submitExtension(request, request.extend.sourceOperation);
    const body: Record<string, unknown> = {
      prompt: request.prompt,
      model: this.options.models?.[request.model] ?? request.model,
      generationType: request.generationType,
      aspectRatio: request.aspectRatio,
      seeds: request.seed,
      enableTranslation: false,
    };
    if (request.imageUrls.length > 0) body.imageUrls = request.imageUrls;
    // kie's 2026 fields (its current document): sent only when asked, so kie's defaults (720p, 8 s) stay its own.
    if (request.resolution !== undefined) body.resolution = request.resolution;
    if (request.durationSeconds !== undefined) body.duration = request.durationSeconds;
    if (request.pushUrl) body.callBackUrl = request.pushUrl;
    const data = await this.envelope(new URL('api/v1/veo/generate', this.baseUrl), {
      method: 'POST',
      body: JSON.stringify(body),
    }).catch((error: unknown) => {
      // kie answers a model it no longer offers with 422 "The model … is not supported".
      if (
        error instanceof KieRefusal &&
        error.code === 422 &&
        /\bmodel\b.*\bnot supported\b/i.test(error.message)
      )
        throw new ModelNotFoundError(String(body.model), request.model);
      throw error;
    });
    return submittedSchema.parse(data).taskId;
  }

  /**
   * kie extends the video of one of its own tasks: `POST /api/v1/veo/extend` with that task's id (the
   * source's operation); the video bytes are not sent. Its models there are `fast` and `quality`.
   */
  private async submitExtension(request: UpstreamRequest, sourceTaskId: string | undefined): Promise<string> {
    if (!sourceTaskId)
      throw new KieRefusal(
        422,
        `${this.name}: only a video kie generated can be extended, and the source has no kie taskId`,
      );
    const body: Record<string, unknown> = {
      taskId: sourceTaskId,
      prompt: request.prompt,
      model: this.options.extendModels?.[request.model] ?? extendModels[request.model] ?? request.model,
      seeds: request.seed,
    };
    if (request.pushUrl) body.callBackUrl = request.pushUrl;
    try {
      const data = await this.envelope(new URL('api/v1/veo/extend', this.baseUrl), {
        method: 'POST',
        body: JSON.stringify(body),
      });
      return submittedSchema.parse(data).taskId;
    } catch (error) {
      if (!(error instanceof KieRefusal)) throw error;
      // e.g. "record is null": kie does not know the source task (another account, or past its retention).
      const detail = error.message.replace(`${this.name}: `, '');
      throw new KieRefusal(error.code, `${this.name}: cannot extend kie task ${sourceTaskId}: ${detail}`);
    }
  }

  async poll(operation: string): Promise<OperationStatus> {
    const url = new URL('api/v1/veo/record-info', this.baseUrl);
    url.searchParams.set('taskId', operation);
    let data: unknown;
    try {
      data = await this.envelope(url, { method: 'GET' });
    } catch (error) {
      // kie forgot the task ("record is null", or past its retention): it will never finish.
      if (error instanceof KieRefusal && error.code === 422)
        return { state: 'failed', reason: error.message };
      throw error;
    }
    const record = recordSchema.parse(data);
    const reason = record.errorMessage || `kie error ${record.errorCode ?? 'unknown'}`;
    switch (record.successFlag) {
      case 0:
        return { state: 'pending' };
      case 1: {
        // An extension's record has the stitched video (source and extension) in fullResultUrls.
        const full = record.response?.fullResultUrls ?? [];
        const videos = full.length > 0 ? full : (record.response?.resultUrls ?? []);
        return videos.length > 0
          ? { state: 'done', videos }
          : { state: 'rejected', reason: 'kie returned no video' };
      }
      case 3:
        return { state: 'rejected', reason };
      default:
        return isRejection(record.errorCode, reason)
          ? { state: 'rejected', reason }
          : { state: 'failed', reason };
    }
  }

  /** kie's result URLs are public links on its CDN: fetched without our key. */
  async download(video: string): Promise<VideoDownload> {
    const url = checkedVideoUrl(this.name, video, this.options.videoUrlGuard);
    const call: UpstreamCall = {
      provider: this.name,
      timeoutMs: this.options.downloadTimeoutMs ?? 120_000,
      secrets: [],
    };
    return streamed(await upstreamFetch(call, url.toString(), { method: 'GET' }));
  }

  /** A push about kie task `operation` is authentic when kie's HMAC signature over it verifies. */
  async verifyPush(operation: string, headers: Record<string, string | undefined>): Promise<boolean> {
    const secret = await this.webhookSecret();
    if (!secret) return false;
    return verifyKieSignature(
      secret,
      operation,
      header(headers, 'x-webhook-timestamp'),
      header(headers, 'x-webhook-signature'),
      Date.now(),
      this.options.pushMaxAgeSeconds,
    );
  }

  private async envelope(url: URL, init: RequestInit): Promise<unknown> {
    const apiKey = await this.apiKey();
    const call: UpstreamCall = {
      provider: this.name,
      timeoutMs: this.options.timeoutMs ?? 30_000,
      secrets: [apiKey],
    };
    // kie states its outcome in the envelope, often with a matching HTTP status: read it either way.
    const response = await apiFetch(call, url, init, { authorization: `Bearer ${apiKey ?? ''}` }, () => true);
    const parsed = envelopeSchema.safeParse(await response.json().catch(() => undefined));
    if (!parsed.success) {
      if (!response.ok)
        throw new KieRefusal(response.status, `${this.name} answered HTTP ${response.status}`);
      throw new UpstreamUnavailableError(`${this.name} answered an unreadable body`);
    }
    const envelope = parsed.data;
    if (envelope.code === 200) return envelope.data;
    const message = shorten(envelope.msg || `kie answered code ${envelope.code}`);
    if (transientCodes.has(envelope.code))
      throw new UpstreamUnavailableError(`${this.name}: ${message} (code ${envelope.code})`, {
        rateLimited: envelope.code === 429,
      });
    throw new KieRefusal(envelope.code, `${this.name}: ${message} (code ${envelope.code})`);
  }
}

/** A non-transient kie envelope error (the code is kie's, e.g. 401, 402, 422). */
export class KieRefusal extends Error {
  override name = 'KieRefusal';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** kie reports content-policy refusals with 400 or 422 ("rejected by Flow", "flagged ... content policies"). */
function isRejection(errorCode: number | null | undefined, message: string): boolean {
  return (
    errorCode === 400 || errorCode === 422 || /reject|flagged|violat|content polic|unsafe/i.test(message)
  );
}

/**
 * Verifies kie.ai's webhook signature: X-Webhook-Signature = base64(HMAC-SHA256(webhookHmacKey,
 * kieTaskId + "." + X-Webhook-Timestamp)), with the timestamp (unix seconds) at most `maxAgeSeconds` away
 * from `now` (ms). Constant-time comparison.
 */
export function verifyKieSignature(
  secret: string,
  kieTaskId: string,
  timestampHeader: string | undefined,
  signatureHeader: string | undefined,
  now: number = Date.now(),
  maxAgeSeconds = 300,
): boolean {
  if (!secret || !kieTaskId || !timestampHeader || !signatureHeader) return false;
  if (!/^\d{1,12}$/.test(timestampHeader)) return false;
  if (Math.abs(now / 1000 - Number(timestampHeader)) > maxAgeSeconds) return false;
  const expected = Buffer.from(
    createHmac('sha256', secret).update(`${kieTaskId}.${timestampHeader}`).digest('base64'),
  );
  const given = Buffer.from(signatureHeader.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}
