import { createHmac, randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { PushMode } from './google-pushes';
import { bearer, isObject, type Route, type SimRequest, sendJson } from './http';
import type { Generation, Refusal, ShapeContext } from './operations';
import { postPush, sendSample } from './operations';
import { type SimResolution, type VideoSpec, videoSpec } from './videos';

/**
 * kie.ai's Veo 3.1 wire format (api.kie.ai), envelope `{ code, msg, data }`:
 *   POST /api/v1/veo/generate            (Bearer key) → data: { taskId }
 *   GET  /api/v1/veo/record-info?taskId=  (Bearer key) → data: the record (successFlag 0/1/2/3, response.resultUrls…)
 *   POST /api/v1/veo/extend              (Bearer key) { taskId, prompt, model: fast|quality, seeds?, callBackUrl? }
 *                                          → data: { taskId }; the source must be a kie task that succeeded
 *   GET  /kie/files/{taskId}.mp4          the result, public like kie's CDN links
 *   GET  /kie/files/{taskId}-full.mp4     an extension's stitched video (response.fullResultUrls)
 * When the submit carried callBackUrl, the end of the generation is POSTed there (kie's callback body),
 * signed with X-Webhook-Timestamp / X-Webhook-Signature when the simulator has a webhook secret, and
 * retried up to 3 times on a non-2xx answer or a network error.
 */

const models = ['veo3', 'veo3_fast', 'veo3_lite'];
const extendModels = ['fast', 'quality'];
const generationTypes = ['TEXT_2_VIDEO', 'FIRST_AND_LAST_FRAMES_2_VIDEO', 'REFERENCE_2_VIDEO'];
const aspectRatios = ['16:9', '9:16', 'Auto'];
const kieResolutions = ['720p', '1080p', '4k'];
const kieDurations = [4, 6, 8];
/** Veo extends by 7 seconds, at 720p. */
const EXTENSION_SECONDS = 7;
const CALLBACK_RETRIES = 3;

export const kieMessages = {
  succeeded: 'Veo3.1 video generated successfully.',
  rejected: 'Your prompt was flagged by Website as violating content policies.',
  failed: 'Video generation failed. Please try again later.',
};

/** kie's webhook signature: base64(HMAC-SHA256(key, taskId + "." + timestamp)). */
export function kieSignature(secret: string, taskId: string, timestamp: string): string {
  return createHmac('sha256', secret).update(`${taskId}.${timestamp}`).digest('base64');
}

export function kieRoutes(ctx: ShapeContext, pushMode: () => PushMode = () => 'send'): Route[] {
  function envelope(res: ServerResponse, code: number, msg: string, data: unknown = null): void {
    const status = code === 200 || ctx.options.kieErrorStatus === 'envelope' ? 200 : code;
    sendJson(res, status, { code, msg, data });
  }

  function authorized(req: SimRequest, res: ServerResponse): boolean {
    const expected = ctx.options.kieApiKey;
    if (!expected) {
      req.record.auth = 'not-required';
      return true;
    }
    const token = bearer(req);
    req.record.auth = token === expected ? 'valid' : token ? 'invalid' : 'missing';
    if (token === expected) return true;
    envelope(res, 401, 'You do not have access permissions');
    return false;
  }

  function refused(res: ServerResponse, refusal: Refusal | undefined): boolean {
    if (!refusal) return false;
    if (refusal.status === 429) {
      envelope(
        res,
        429,
        'Your request rate is too high. Please slow down: at most 20 new requests per 10 seconds.',
      );
    } else {
      envelope(res, 500, 'Server error. Please try again later.');
    }
    return true;
  }

  function record(generation: Generation, done: boolean) {
    const base = {
      taskId: generation.id,
      paramJson: JSON.stringify(generation.details.request),
      createTime: kieTime(generation.createdAt),
      completeTime: done ? kieTime(generation.doneAt) : null,
      response: null as unknown,
      successFlag: 0,
      errorCode: null as number | null,
      errorMessage: '',
      fallbackFlag: false,
    };
    if (!done) return base;
    if (generation.outcome === 'rejected') {
      return { ...base, successFlag: 3, errorCode: 400, errorMessage: kieMessages.rejected };
    }
    if (generation.outcome === 'failed') {
      return { ...base, successFlag: 2, errorCode: 501, errorMessage: kieMessages.failed };
    }
    return { ...base, successFlag: 1, response: { taskId: generation.id, ...resultInfo(generation) } };
  }

  function resultInfo(generation: Generation) {
    const url = `${ctx.baseUrl()}/kie/files/${generation.id}.mp4`;
    const info = {
      resultUrls: [url],
      originUrls: generation.aspectRatio === '16:9' ? [] : [url],
      resolution: resolutionOf(generation.video),
    };
    // An extension's own clip is in resultUrls, the source and the extension stitched in fullResultUrls.
    if (!generation.details.extends) return info;
    return { ...info, fullResultUrls: [`${ctx.baseUrl()}/kie/files/${generation.id}-full.mp4`] };
  }

  function schedulePush(generation: Generation, callBackUrl: unknown): void {
    if (typeof callBackUrl !== 'string') return;
    ctx.schedule(() => void deliver(generation, callBackUrl, 0), generation.doneAt - Date.now());
  }

  function callbackBody(generation: Generation) {
    const taskId = generation.id;
    if (generation.outcome === 'succeeded') {
      return {
        code: 200,
        msg: kieMessages.succeeded,
        data: { taskId, info: resultInfo(generation), fallbackFlag: false },
      };
    }
    const code = generation.outcome === 'rejected' ? 400 : 501;
    return { code, msg: kieMessages[generation.outcome], data: { taskId, fallbackFlag: false } };
  }

  async function deliver(generation: Generation, url: string, attempt: number): Promise<void> {
    // An upstream that is down sends no pushes either: this one goes out once it is back.
    if (ctx.isDown()) return ctx.schedule(() => void deliver(generation, url, attempt), 250);
    if (pushMode() === 'drop') return; // lost on the way
    const headers: Record<string, string> = {};
    const secret = ctx.options.kieWebhookSecret;
    if (secret) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      headers['x-webhook-timestamp'] = timestamp;
      headers['x-webhook-signature'] = kieSignature(secret, generation.id, timestamp);
    }
    const body = callbackBody(generation);
    if (await postPush(ctx, { url, taskId: generation.id, attempt, body, headers })) return;
    if (attempt < CALLBACK_RETRIES) {
      const delay = (ctx.options.kieCallbackRetryMs ?? 1000) * 2 ** attempt;
      ctx.schedule(() => void deliver(generation, url, attempt + 1), delay);
    }
  }

  /** What every kie submit (generate, extend) checks first: the key, faults and quota, a JSON object body. */
  function acceptedSubmit(req: SimRequest, res: ServerResponse): Record<string, unknown> | undefined {
    if (!authorized(req, res)) return undefined;
    if (refused(res, ctx.generations.refusal('kie', 'submit'))) return undefined;
    ctx.stats.submits++;
    if (req.bodyError || !isObject(req.body)) {
      envelope(res, 422, 'The request body must be a JSON object');
      return undefined;
    }
    return req.body;
  }

  return [
    {
      shape: 'kie',
      kind: 'submit',
      method: 'POST',
      pattern: /^\/api\/v1\/veo\/generate$/,
      handle(req, res) {
        const body = acceptedSubmit(req, res);
        if (!body) return;
        if (ctx.options.retiredModels?.includes(String(body.model)))
          return envelope(res, 422, `The model ${String(body.model)} is not supported`);
        const problem = checkGenerate(body);
        if (problem) return envelope(res, 422, problem);
        const aspectRatio = body.aspect_ratio ?? body.aspectRatio;
        const generation = ctx.generations.create(
          'kie',
          {
            model: String(body.model ?? 'veo3_fast'),
            prompt: String(body.prompt),
            aspectRatio,
            video: videoSpec(
              aspectRatio === '9:16' ? '9:16' : '16:9',
              (body.resolution as SimResolution | undefined) ?? '720p',
              Number(body.duration ?? 8),
            ),
          },
          { request: body },
          kieTaskId(),
        );
        req.record.id = generation.id;
        schedulePush(generation, body.callBackUrl);
        return envelope(res, 200, 'success', { taskId: generation.id });
      },
    },
    {
      shape: 'kie',
      kind: 'submit',
      method: 'POST',
      pattern: /^\/api\/v1\/veo\/extend$/,
      handle(req, res) {
        const body = acceptedSubmit(req, res);
        if (!body) return;
        const problem = checkExtend(body);
        if (problem) return envelope(res, 422, problem);
        // Only a video kie generated (and still keeps) can be extended.
        const source = ctx.generations.get(String(body.taskId), 'kie');
        if (!source) return envelope(res, 422, 'record is null');
        if (!ctx.generations.isDone(source) || source.outcome !== 'succeeded') {
          return envelope(res, 422, 'record status is not success');
        }
        const generation = ctx.generations.create(
          'kie',
          {
            model: String(body.model ?? 'fast'),
            prompt: String(body.prompt),
            aspectRatio: source.aspectRatio,
            // The stitched video: the source and 7 seconds more, at 720p.
            video: videoSpec(source.aspectRatio, '720p', source.video.durationSeconds + EXTENSION_SECONDS),
          },
          { request: body, extends: source.id },
          kieTaskId(),
        );
        req.record.id = generation.id;
        schedulePush(generation, body.callBackUrl);
        return envelope(res, 200, 'success', { taskId: generation.id });
      },
    },
    {
      shape: 'kie',
      kind: 'poll',
      method: 'GET',
      pattern: /^\/api\/v1\/veo\/record-info$/,
      idOf: (req) => req.url.searchParams.get('taskId') ?? undefined,
      handle(req, res) {
        if (!authorized(req, res)) return;
        if (refused(res, ctx.generations.refusal('kie', 'poll'))) return;
        ctx.stats.polls++;
        const generation = ctx.generations.get(req.url.searchParams.get('taskId') ?? '', 'kie');
        if (!generation) return envelope(res, 422, 'record is null');
        return envelope(res, 200, 'success', record(generation, ctx.generations.polled(generation)));
      },
    },
    {
      shape: 'kie',
      kind: 'download',
      method: 'GET',
      pattern: /^\/kie\/files\/([^/.]+?)(-full)?\.mp4$/,
      idOf: (_req, match) => match[1],
      async handle(req, res, match) {
        req.record.auth = 'not-required';
        const generation = ctx.generations.get(match[1] ?? '', 'kie');
        // Only an extension has a stitched (-full) video.
        const noSuchFull = match[2] !== undefined && !generation?.details.extends;
        if (noSuchFull || generation?.outcome !== 'succeeded' || !ctx.generations.isDone(generation)) {
          res.writeHead(404).end();
          return;
        }
        ctx.stats.downloads++;
        // An extension's own clip (resultUrls) is the 7 seconds it added; -full is the stitched video.
        const own =
          generation.details.extends && match[2] === undefined
            ? videoSpec(generation.aspectRatio, '720p', EXTENSION_SECONDS)
            : generation.video;
        await sendSample(res, generation, ctx.options.videoBytes, own);
      },
    },
  ];
}

/**
 * kie's validation of a generate request: the rules of its document (docs.kie.ai, and its 2026 revision
 * with aspect_ratio, resolution, duration and veo3_lite; REFERENCE_2_VIDEO on veo3_fast and veo3_lite in
 * 16:9 and 9:16), plus Veo's own limits it relays (8 seconds for 1080p, 4k and references; no 4k on Lite).
 * The simulator's own copy, not the core's capability table.
 */
function checkGenerate(body: Record<string, unknown>): string | undefined {
  const {
    prompt,
    imageUrls,
    model,
    generationType,
    seeds,
    callBackUrl,
    enableTranslation,
    resolution,
    duration,
  } = body;
  if (
    body.aspect_ratio !== undefined &&
    body.aspectRatio !== undefined &&
    body.aspect_ratio !== body.aspectRatio
  )
    return 'aspect_ratio and aspectRatio differ';
  const aspectRatio = body.aspect_ratio ?? body.aspectRatio;
  if (typeof prompt !== 'string' || prompt.trim().length === 0) return 'prompt is required';
  if (model !== undefined && !models.includes(String(model)))
    return `model must be one of ${models.join(', ')}`;
  const urls = imageUrls ?? [];
  if (!Array.isArray(urls) || urls.some((u) => typeof u !== 'string' || !/^https?:\/\//.test(u))) {
    return 'imageUrls must be an array of http(s) URLs';
  }
  if (generationType !== undefined && !generationTypes.includes(String(generationType))) {
    return `generationType must be one of ${generationTypes.join(', ')}`;
  }
  if (aspectRatio !== undefined && !aspectRatios.includes(String(aspectRatio))) {
    return `aspectRatio must be one of ${aspectRatios.join(', ')}`;
  }
  const type =
    generationType ??
    (urls.length === 0
      ? 'TEXT_2_VIDEO'
      : urls.length === 3
        ? 'REFERENCE_2_VIDEO'
        : 'FIRST_AND_LAST_FRAMES_2_VIDEO');
  if (type === 'TEXT_2_VIDEO' && urls.length > 0) return 'TEXT_2_VIDEO does not take imageUrls';
  if (type === 'FIRST_AND_LAST_FRAMES_2_VIDEO' && (urls.length < 1 || urls.length > 2)) {
    return 'FIRST_AND_LAST_FRAMES_2_VIDEO needs 1 or 2 imageUrls';
  }
  if (type === 'REFERENCE_2_VIDEO') {
    if (urls.length < 1 || urls.length > 3) return 'REFERENCE_2_VIDEO needs 1 to 3 imageUrls';
    if (!['veo3_fast', 'veo3_lite'].includes(String(model ?? 'veo3_fast'))) {
      return 'REFERENCE_2_VIDEO supports only the veo3_fast and veo3_lite models';
    }
    if (aspectRatio === 'Auto') return 'REFERENCE_2_VIDEO supports the 16:9 and 9:16 aspect ratios';
  }
  if (resolution !== undefined && !kieResolutions.includes(String(resolution)))
    return `resolution must be one of ${kieResolutions.join(', ')}`;
  if (duration !== undefined && !kieDurations.includes(Number(duration)))
    return `duration must be one of ${kieDurations.join(', ')}`;
  if (model === 'veo3_lite' && resolution === '4k') return 'veo3_lite does not support 4k';
  const needsEight = type === 'REFERENCE_2_VIDEO' || (resolution !== undefined && resolution !== '720p');
  if (needsEight && duration !== undefined && Number(duration) !== 8)
    return 'duration must be 8 for 1080p, 4k or REFERENCE_2_VIDEO';
  if (seeds !== undefined && !(Number.isInteger(seeds) && Number(seeds) >= 10000 && Number(seeds) <= 99999)) {
    return 'seeds must be an integer between 10000 and 99999';
  }
  if (callBackUrl !== undefined && !(typeof callBackUrl === 'string' && /^https?:\/\//.test(callBackUrl))) {
    return 'callBackUrl must be an http(s) URL';
  }
  if (enableTranslation !== undefined && typeof enableTranslation !== 'boolean') {
    return 'enableTranslation must be a boolean';
  }
  return undefined;
}

/** kie's validation of an extend request (its extend API: taskId and prompt required, model fast|quality). */
function checkExtend(body: Record<string, unknown>): string | undefined {
  const { taskId, prompt, model, seeds, callBackUrl, watermark } = body;
  if (typeof taskId !== 'string' || taskId.trim().length === 0) return 'taskId is required';
  if (typeof prompt !== 'string' || prompt.trim().length === 0) return 'prompt is required';
  if (model !== undefined && !extendModels.includes(String(model)))
    return `model must be one of ${extendModels.join(', ')}`;
  if (seeds !== undefined && !(Number.isInteger(seeds) && Number(seeds) >= 10000 && Number(seeds) <= 99999)) {
    return 'seeds must be an integer between 10000 and 99999';
  }
  if (callBackUrl !== undefined && !(typeof callBackUrl === 'string' && /^https?:\/\//.test(callBackUrl))) {
    return 'callBackUrl must be an http(s) URL';
  }
  if (watermark !== undefined && typeof watermark !== 'string') return 'watermark must be a string';
  return undefined;
}

/** kie's name of a video's resolution, from its frame size. */
function resolutionOf(video: VideoSpec): SimResolution {
  const short = Math.min(video.width, video.height);
  return short >= 2160 ? '4k' : short >= 1080 ? '1080p' : '720p';
}

/** kie's record times, e.g. "2025-06-06 10:30:00" (UTC here). */
function kieTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** Ids shaped like kie's (32 hex characters). */
export function kieTaskId(): string {
  return randomBytes(16).toString('hex');
}
