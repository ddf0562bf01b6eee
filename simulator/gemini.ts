import type { ServerResponse } from 'node:http';
import {
  EXTENSION_SECONDS,
  failedOperation,
  filteredReason,
  googleError,
  refused,
  veoSubmit,
} from './google';
import type { GooglePushes } from './google-pushes';
import { type Route, type SimRequest, sendJson } from './http';
import { type Generation, type ShapeContext, sendSample } from './operations';
import { videoSpec } from './videos';

/**
 * The Gemini API's Veo wire format (generativelanguage.googleapis.com):
 *   POST /v1beta/models/{model}:predictLongRunning   → { name: "models/{model}/operations/{id}" }
 *   GET  /v1beta/models/{model}/operations/{id}      → { name } until { name, done: true, response | error }
 *   GET  /v1beta/files/{id}:download?alt=media       → the MP4
 * Every call needs the API key (`x-goog-api-key` or `?key=`) when the simulator has one.
 * A video extension is the same submit with instances[0].video: inline { encodedVideo, encoding:
 * "video/mp4" } (an MP4; refused when `geminiInlineVideo` is false) or { uri } of a video this shape
 * generated; resolution 720p, durationSeconds 8.
 * A submit with `webhookConfig` (a dynamic webhook) is pushed `video.generated` when it ends (google-pushes.ts).
 */

const responseType = 'type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse';

/** Parameters the Gemini API refuses for Veo (the Gen AI SDK calls them Vertex-only). */
const vertexOnlyParameters = [
  'seed',
  'generateAudio',
  'storageUri',
  'fps',
  'compressionQuality',
  'pubsubTopic',
];

export function geminiRoutes(ctx: ShapeContext, webhooks?: GooglePushes): Route[] {
  /** Answers the request itself and returns false when the key is missing or wrong. */
  function authorized(req: SimRequest, res: ServerResponse): boolean {
    const expected = ctx.options.apiKey;
    if (!expected) {
      req.record.auth = 'not-required';
      return true;
    }
    const given = headerValue(req.headers['x-goog-api-key']) ?? req.url.searchParams.get('key') ?? undefined;
    if (given === expected) {
      req.record.auth = 'valid';
      return true;
    }
    if (!given) {
      req.record.auth = 'missing';
      googleError(
        res,
        403,
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
      );
      return false;
    }
    req.record.auth = 'invalid';
    googleError(res, 400, 'API key not valid. Please pass a valid API key.', [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'API_KEY_INVALID',
        domain: 'googleapis.com',
      },
    ]);
    return false;
  }

  function videoUri(generation: Generation): string {
    return `${ctx.baseUrl()}/v1beta/files/${generation.id}:download?alt=media`;
  }

  /** The finished generation whose video `uri` points at, if any. */
  function generatedVideo(uri: string): Generation | undefined {
    const id = URL.canParse(uri)
      ? /^\/v1beta\/files\/([^/:]+):download$/.exec(new URL(uri).pathname)?.[1]
      : undefined;
    const generation = id ? ctx.generations.get(id, 'gemini') : undefined;
    if (!generation || uri !== videoUri(generation)) return undefined;
    return generation.outcome === 'succeeded' && ctx.generations.isDone(generation) ? generation : undefined;
  }

  function operationName(generation: Generation): string {
    return `models/${generation.model}/operations/${generation.id}`;
  }

  function finished(generation: Generation) {
    const name = operationName(generation);
    if (generation.outcome === 'failed') return failedOperation(name);
    if (generation.outcome === 'rejected') {
      return {
        name,
        done: true,
        response: {
          '@type': responseType,
          generateVideoResponse: { raiMediaFilteredCount: 1, raiMediaFilteredReasons: [filteredReason] },
        },
      };
    }
    const uri = videoUri(generation);
    return {
      name,
      done: true,
      response: { '@type': responseType, generateVideoResponse: { generatedSamples: [{ video: { uri } }] } },
    };
  }

  return [
    {
      shape: 'gemini',
      kind: 'submit',
      method: 'POST',
      pattern: /^\/v1beta\/models\/([^/:]+):predictLongRunning$/,
      handle(req, res, match) {
        if (!authorized(req, res)) return;
        const quotaMessage = 'You exceeded your current quota, please check your plan and billing details.';
        if (refused(res, ctx.generations.refusal('gemini', 'submit'), quotaMessage)) return;
        ctx.stats.submits++;
        if (ctx.options.retiredModels?.includes(match[1] ?? '')) {
          return googleError(
            res,
            404,
            `models/${match[1]} is not found for API version v1beta, or is not supported for predictLongRunning. Call ListModels to see the list of available models and their supported methods.`,
          );
        }
        const submit = veoSubmit(req, res, 'gemini', match[1] ?? '');
        if (!submit) return;
        const vertexOnly = vertexOnlyParameters.find((name) => submit.parameters[name] !== undefined);
        if (vertexOnly) {
          return googleError(
            res,
            400,
            `\`${vertexOnly}\` isn't supported by this model. Please remove it or refer to the Gemini API documentation for supported usage.`,
          );
        }
        const fields = {
          model: match[1] ?? '',
          ...submit.fields,
          video: submit.output,
          samples: submit.samples,
        };
        const video = submit.video;
        if (video?.kind === 'inline' && ctx.options.geminiInlineVideo === false) {
          return googleError(
            res,
            400,
            'Input video must be a video generated by Veo: pass the uri of a video from a previous generation.',
          );
        }
        if (video?.kind === 'uri') {
          const source = generatedVideo(video.uri);
          if (!source) {
            return googleError(
              res,
              400,
              'Input video must be a video generated by Veo in the last 2 days: unknown or expired video uri.',
            );
          }
          fields.aspectRatio ??= source.aspectRatio;
          // The source's length and 7 seconds more, at 720p, in the source's ratio unless asked otherwise.
          const ratio = fields.aspectRatio === '9:16' ? '9:16' : '16:9';
          fields.video = videoSpec(ratio, '720p', source.video.durationSeconds + EXTENSION_SECONDS);
        }
        const generation = ctx.generations.create('gemini', fields, { extension: video?.kind });
        req.record.id = generation.id;
        webhooks?.requested(generation, req.body, operationName(generation), videoUri(generation));
        return sendJson(res, 200, { name: operationName(generation) });
      },
    },
    {
      shape: 'gemini',
      kind: 'poll',
      method: 'GET',
      pattern: /^\/v1beta\/models\/([^/]+)\/operations\/([^/]+)$/,
      idOf: (_req, match) => match[2],
      handle(req, res, match) {
        if (!authorized(req, res)) return;
        if (refused(res, ctx.generations.refusal('gemini', 'poll'))) return;
        ctx.stats.polls++;
        const generation = ctx.generations.get(match[2] ?? '', 'gemini');
        if (!generation || generation.model !== match[1])
          return googleError(res, 404, 'Operation not found.');
        if (!ctx.generations.polled(generation))
          return sendJson(res, 200, { name: operationName(generation) });
        return sendJson(res, 200, finished(generation));
      },
    },
    {
      shape: 'gemini',
      kind: 'download',
      method: 'GET',
      pattern: /^\/v1beta\/files\/([^/:]+):download$/,
      idOf: (_req, match) => match[1],
      async handle(req, res, match) {
        if (!authorized(req, res)) return;
        const generation = ctx.generations.get(match[1] ?? '', 'gemini');
        if (generation?.outcome !== 'succeeded' || !ctx.generations.isDone(generation)) {
          return googleError(res, 404, 'File not found.');
        }
        ctx.stats.downloads++;
        await sendSample(res, generation, ctx.options.videoBytes);
      },
    },
  ];
}

export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
