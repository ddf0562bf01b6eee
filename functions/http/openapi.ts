import * as z from 'zod';
import {
  capabilityTable,
  type UpstreamCapabilities,
  type UpstreamShape,
  upstreamShapes,
} from '../core/capabilities';
import { type CapabilityRequest, checkCapabilities } from '../core/capability-check';
import { taskEventJsonSchema } from '../core/event-schema';
import {
  cancelRequestSchema,
  extendRequestSchema,
  fourKRequestSchema,
  generateRequestSchema,
  hdQuerySchema,
  recordInfoQuerySchema,
  tasksQuerySchema,
  veoOptionKeys,
} from '../core/schema';
import type { Task } from '../core/task';
import { toRecord } from '../core/task/record';
import type { UrlPolicy } from '../core/url-guard';

/**
 * GET /api/v1/openapi.json: the contract as OpenAPI 3.1, built from the zod schemas that validate the
 * requests (their input side: what a client may send). Refinements zod cannot express in JSON Schema
 * (the URL guard, the prompt's code-point length) carry their rule as schema metadata in schema.ts.
 */
type JsonSchema = Record<string, unknown>;

export interface Operation {
  method: 'get' | 'post';
  path: string;
  summary: string;
  /** Served without an API key. */
  public?: boolean;
  query?: z.ZodType;
  /** A value for each query parameter that the query schema accepts ("Try it out" fills them in). */
  queryExample?: Record<string, string>;
  body?: z.ZodType;
  /**
   * Bodies the body schema accepts, by name (the first is what "Try it out" fills in): written out, as
   * the one JSON Schema would generate is not valid. Only those the deployment's upstream can honour
   * (core/capabilities.ts) are listed, so every example shown works where it is shown.
   */
  bodyExamples?: Record<string, BodyExample>;
  /** Which task the examples' `taskId` must name for the call to succeed, said in the document. */
  needs?: 'a finished 16:9 task' | 'a finished task' | 'a queued task' | 'any task';
  /** JSON Schema of the envelope's `data` on success. */
  data: JsonSchema;
  /** An example of the envelope's `data` on success. */
  dataExample?: unknown;
  /** Error codes beyond the ones every authenticated route can answer (401, 422, 500). */
  errors?: number[];
}

export interface BodyExample {
  summary: string;
  value: Record<string, unknown>;
}

const str = { type: 'string' } as const;
const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, { type: 'null' }] });
const taskIdData: JsonSchema = { type: 'object', properties: { taskId: str }, required: ['taskId'] };
const compactRecord: JsonSchema = {
  type: 'object',
  properties: {
    taskId: str,
    createTime: { type: 'integer', description: 'epoch milliseconds' },
    completeTime: nullable({ type: 'integer' }),
    successFlag: {
      enum: [0, 1, 2, 3],
      description: '0 generating, 1 success, 2 failed or cancelled, 3 rejected',
    },
    state: { enum: ['waiting', 'success', 'fail'] },
    model: str,
    aspectRatio: str,
    prompt: str,
    resultUrls: nullable({ type: 'array', items: str }),
    failMsg: nullable(str),
  },
};

/**
 * The task the examples name. A task id names one real task of the caller's, so no example can be
 * valid everywhere as it stands: each operation that takes one says which task to put in its place.
 */
export const EXAMPLE_TASK_ID = 'veo_3kTq9ZpR2mXvL8wY';

/** kie.ai's codes (its contract's "Codes" table); the HTTP status always equals the envelope's `code`. */
export const errorCodes: Record<number, string> = {
  400: '1080P is still processing',
  401: 'missing or unknown API key',
  402: 'not enough credits',
  404: 'no such route',
  413: 'request body too large',
  422: 'validation error, record is null, or upstream content rejection',
  429: "over the key's rate limit",
  455: 'maintenance',
  500: 'unexpected error',
  501: 'generation failed (in records and callbacks)',
  505: 'feature disabled by configuration',
};

const examplePrompt = 'A golden retriever running along a beach at sunset, slow motion';

/**
 * generate's examples: kie.ai's classic request first, then the Veo 3.1 fields (issue 15) the way the
 * clients send them. Which are shown depends on the deployment's upstream (see `honoured`).
 */
const generateExamples: Record<string, BodyExample> = {
  classic: {
    summary: 'kie.ai classic: model, aspectRatio, seeds',
    value: {
      prompt: examplePrompt,
      model: 'veo3_fast',
      aspectRatio: '16:9',
      seeds: 12345,
      enableTranslation: true,
    },
  },
  kie2026: {
    summary: "kie.ai 2026: aspect_ratio, resolution, duration and Lite, as kie's current clients send them",
    value: {
      prompt: 'A lighthouse at dusk, waves below',
      model: 'veo3_lite',
      aspect_ratio: '9:16',
      resolution: '1080p',
      duration: 8,
    },
  },
  short: {
    summary: 'A 4-second 720p clip',
    value: { prompt: 'A paper boat drifting down a rain gutter', model: 'veo3_fast', duration: 4 },
  },
  options: {
    summary: 'Every Veo 3.1 option at values most upstreams honour: 4K, 8 s, audio, negative prompt, people',
    value: {
      prompt: examplePrompt,
      model: 'veo3',
      aspect_ratio: '16:9',
      resolution: '4k',
      durationSeconds: 8,
      generateAudio: true,
      negativePrompt: 'blurry, low quality, text overlays',
      personGeneration: 'allow_all',
      sampleCount: 1,
      seeds: 12345,
    },
  },
  silentSamples: {
    summary: 'Two silent 1080p videos in one task (Vertex AI: generateAudio false, sampleCount up to 4)',
    value: {
      prompt: examplePrompt,
      model: 'veo3_fast',
      resolution: '1080p',
      duration: 8,
      generateAudio: false,
      sampleCount: 2,
      personGeneration: 'allow_adult',
      seeds: 12345,
    },
  },
};

const extendExamples: Record<string, BodyExample> = {
  classic: {
    summary: "kie.ai's extend: the finished task, a prompt, the model",
    value: { taskId: EXAMPLE_TASK_ID, prompt: 'The dog stops, turns to the camera and barks', model: 'fast' },
  },
  options: {
    summary: 'With the Veo 3.1 options an extension takes (made at 720p, 7 seconds longer)',
    value: {
      taskId: EXAMPLE_TASK_ID,
      prompt: 'The dog runs into the waves',
      model: 'fast',
      resolution: '720p',
      negativePrompt: 'blurry',
      personGeneration: 'allow_all',
      seeds: 23456,
    },
  },
};

function isUpstreamShape(name: string | undefined): name is UpstreamShape {
  return (upstreamShapes as readonly (string | undefined)[]).includes(name);
}

/**
 * Whether the upstream honours an example body, judged as submit judges it (core/capabilities.ts);
 * without a known upstream every example is kept. A body the schema refuses is kept too, so the unit
 * test that parses every example reports it instead of it vanishing.
 */
function honoured(
  upstream: string | undefined,
  schema: z.ZodType,
  body: Record<string, unknown>,
  extend: boolean,
) {
  if (!isUpstreamShape(upstream)) return true;
  const parsed = schema.safeParse(body);
  if (!parsed.success) return true;
  const request = parsed.data as Record<string, unknown> & {
    model: CapabilityRequest['model'];
    generationType?: CapabilityRequest['mode'];
    aspectRatio?: string;
    imageUrls?: string[];
    seeds?: number;
  };
  const asking: CapabilityRequest = {
    model: request.model,
    mode: extend ? 'EXTEND' : (request.generationType ?? 'TEXT_2_VIDEO'),
    aspectRatio: request.aspectRatio === '9:16' ? '9:16' : '16:9',
    imageCount: request.imageUrls?.length ?? 0,
  };
  if (request.seeds !== undefined) asking.seed = request.seeds;
  for (const field of veoOptionKeys) {
    if (request[field] !== undefined) Object.assign(asking, { [field]: request[field] });
  }
  return checkCapabilities(asking, upstream).ok;
}

function examplesFor(
  upstream: string | undefined,
  schema: z.ZodType,
  examples: Record<string, BodyExample>,
  extend: boolean,
): Record<string, BodyExample> {
  return Object.fromEntries(
    Object.entries(examples).filter(([, example]) => honoured(upstream, schema, example.value, extend)),
  );
}

/**
 * record-info's example: a finished task made from the `options` example on the Gemini API, built by the
 * record builder itself, so it shows what the API answers: `seeds` not applied there (listed in
 * `notApplied`), the native 4K video (`made: native`) and an upscaled 1080p rendition asked for later.
 */
function recordExample(): unknown {
  const created = Date.UTC(2026, 10, 30, 9, 0, 0);
  const task: Task = {
    taskId: EXAMPLE_TASK_ID,
    keyHash: '0'.repeat(64),
    status: 'succeeded',
    request: {
      prompt: examplePrompt,
      imageUrls: [],
      model: 'veo3',
      generationType: 'TEXT_2_VIDEO',
      aspectRatio: '16:9',
      seeds: 12345,
      watermark: undefined,
      callBackUrl: undefined,
      enableTranslation: true,
      resolution: '4k',
      durationSeconds: 8,
      negativePrompt: 'blurry, low quality, text overlays',
      personGeneration: 'allow_all',
    },
    paramJson: JSON.stringify(generateExamples.options?.value),
    seeds: 12345,
    aspectRatio: '16:9',
    promptSent: examplePrompt,
    provider: 'gemini',
    asked: { resolution: '4k', durationSeconds: 8, generateAudio: true, sampleCount: 1 },
    notApplied: ['seeds'],
    credits: 450,
    createdAt: created,
    updatedAt: created + 95_000,
    completedAt: created + 95_000,
    deadlineAt: created + 1_800_000,
    polls: 9,
    results: [{ key: 'videos/x/0.mp4', originKey: 'videos/x/0.mp4', resolution: '4k' }],
    expiresAt: 0,
  };
  const url = (name: string) =>
    `https://veo-videos.s3.us-east-1.amazonaws.com/videos/${EXAMPLE_TASK_ID}/${name}?X-Amz-Signature=…`;
  return toRecord(task, {
    resultUrls: [url('0.mp4')],
    originUrls: [url('0.mp4')],
    renditions: [
      { resolution: '1080p', index: 0, status: 'ready', resultUrl: url('1080p-0.mp4'), made: 'upscaled' },
    ],
  });
}

/**
 * Every operation of the API, with examples each of its schemas accepts (checked by openapi.test.ts);
 * `upstream` (the deployment's provider) picks the request examples it can honour.
 */
export function operations(policy: UrlPolicy, upstream?: string): Operation[] {
  const generateBody = generateRequestSchema(policy);
  const extendBody = extendRequestSchema(policy);
  return [
    {
      method: 'post',
      path: '/api/v1/veo/generate',
      summary: 'Start a video generation',
      body: generateBody,
      bodyExamples: examplesFor(upstream, generateBody, generateExamples, false),
      data: taskIdData,
      errors: [402, 429, 505],
    },
    {
      method: 'get',
      path: '/api/v1/veo/record-info',
      summary: "A task's record (every task kind)",
      query: recordInfoQuerySchema,
      queryExample: { taskId: EXAMPLE_TASK_ID },
      needs: 'any task',
      data: {
        type: 'object',
        description:
          "kie.ai's record, plus aspectRatio, seeds, promptSent, callbacks; what was asked (resolution, duration, generateAudio, sampleCount), the fields accepted but not passed on by this upstream (notApplied), and how each file was made (response.videos and renditions: native or upscaled)",
      },
      dataExample: recordExample(),
    },
    {
      method: 'get',
      path: '/api/v1/chat/credit',
      summary: 'Remaining credits',
      data: { type: 'integer' },
    },
    {
      method: 'get',
      path: '/api/v1/veo/get-1080p-video',
      summary: 'The 1080p rendition of a finished 16:9 task',
      query: hdQuerySchema,
      queryExample: { taskId: EXAMPLE_TASK_ID, index: '0' },
      needs: 'a finished 16:9 task',
      data: { type: 'object', properties: { resultUrl: str } },
      errors: [400, 402],
    },
    {
      method: 'post',
      path: '/api/v1/veo/get-4k-video',
      summary: 'Start a 4K rendition of a finished task (called back when ready)',
      body: fourKRequestSchema(policy),
      bodyExamples: {
        index0: { summary: 'The first video of the task', value: { taskId: EXAMPLE_TASK_ID, index: 0 } },
      },
      needs: 'a finished task',
      data: {
        type: 'object',
        properties: { taskId: str, resultUrls: { type: 'null' }, imageUrls: { type: 'null' } },
      },
      errors: [402],
    },
    {
      method: 'post',
      path: '/api/v1/veo/extend',
      summary: 'Continue a finished video as a new task',
      body: extendBody,
      bodyExamples: examplesFor(upstream, extendBody, extendExamples, true),
      needs: 'a finished task',
      data: taskIdData,
      errors: [402, 429, 505],
    },
    {
      method: 'get',
      path: '/api/v1/veo/tasks',
      summary: "The caller's tasks, newest first (beyond kie.ai)",
      query: tasksQuerySchema,
      queryExample: { limit: '10' },
      data: {
        type: 'object',
        properties: {
          tasks: { type: 'array', items: { $ref: '#/components/schemas/CompactRecord' } },
          nextCursor: nullable(str),
        },
        required: ['tasks', 'nextCursor'],
      },
    },
    {
      method: 'post',
      path: '/api/v1/veo/cancel',
      summary:
        'Cancel a task the upstream does not have yet, refunding it (beyond kie.ai); afterwards it reads as successFlag 2, errorCode 400, "cancelled by the client"',
      body: cancelRequestSchema,
      bodyExamples: { queued: { summary: 'A task still queued', value: { taskId: EXAMPLE_TASK_ID } } },
      needs: 'a queued task',
      data: { $ref: '#/components/schemas/CompactRecord' },
    },
    {
      method: 'get',
      path: '/api/v1/openapi.json',
      summary: 'This document (no API key needed; served as is, not in the envelope)',
      public: true,
      data: { type: 'object' },
    },
    {
      method: 'get',
      path: '/api/v1/capabilities.json',
      summary:
        "What this deployment's upstream can do (no API key needed; served as is): per model its modes, ratios, resolutions and durations, the options it passes on, and the rules between them, each with its source",
      public: true,
      data: {
        type: 'object',
        properties: {
          upstream: str,
          models: { type: ['object', 'null'] },
          options: { type: ['object', 'null'] },
          rules: { type: ['array', 'null'] },
        },
        required: ['upstream', 'models', 'options', 'rules'],
      },
    },
    {
      method: 'get',
      path: '/api/v1/events.schema.json',
      summary:
        'JSON Schema of the task events on EventBridge (source veo-serverless; also components.schemas.TaskEvent here)',
      public: true,
      data: { $ref: '#/components/schemas/TaskEvent' },
    },
  ];
}

function jsonSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  return rest;
}

function queryParameters(op: Operation, schema: z.ZodType) {
  const object = jsonSchema(schema) as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, property]) => ({
    name,
    in: 'query',
    // A parameter with a default may be left out, even though the parsed value always has it.
    required: (object.required ?? []).includes(name) && property.default === undefined,
    schema: property,
    ...(op.queryExample?.[name] !== undefined && { example: op.queryExample[name] }),
    ...(name === 'taskId' && op.needs && { description: taskIdNote(op) }),
  }));
}

function taskIdNote(op: Operation): string {
  return `The taskId of ${op.needs} of yours (the one shown is only an example; generate returns real ones)`;
}

function envelopeOf(data: JsonSchema): JsonSchema {
  return {
    type: 'object',
    properties: { code: { const: 200 }, msg: { const: 'success' }, data },
    required: ['code', 'msg', 'data'],
  };
}

function operationObject(op: Operation) {
  const codes = op.public ? [] : [401, 422, ...(op.errors ?? []), 500];
  return {
    summary: op.summary,
    ...(op.body && op.needs && { description: `${taskIdNote(op)}.` }),
    operationId: `${op.method}${op.path.replace(/^\/api\/v1/, '').replace(/[^A-Za-z0-9]+(.)?/g, (_, c = '') => c.toUpperCase())}`,
    ...(op.public && { security: [] }),
    ...(op.query && { parameters: queryParameters(op, op.query) }),
    ...(op.body && {
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: jsonSchema(op.body),
            ...(op.bodyExamples && { examples: op.bodyExamples }),
          },
        },
      },
    }),
    responses: {
      200: {
        description: 'success',
        content: {
          'application/json': {
            schema: op.public ? op.data : envelopeOf(op.data),
            ...(op.dataExample !== undefined && {
              example: { code: 200, msg: 'success', data: op.dataExample },
            }),
          },
        },
      },
      ...Object.fromEntries(
        codes.sort((a, b) => a - b).map((code) => [code, { $ref: `#/components/responses/E${code}` }]),
      ),
    },
  };
}

export function buildOpenApiDocument(policy: UrlPolicy, upstream?: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations(policy, upstream)) {
    paths[op.path] = { ...paths[op.path], [op.method]: operationObject(op) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'veo-serverless',
      version: '1',
      description: `Self-hosted Veo 3.1 API speaking kie.ai's contract. Every answer is the envelope {code,msg,data}; the HTTP status equals code. Codes: ${Object.entries(
        errorCodes,
      )
        .map(([code, meaning]) => `${code} ${meaning}`)
        .join('; ')}.`,
    },
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key>' },
      },
      schemas: {
        Envelope: {
          type: 'object',
          properties: { code: { type: 'integer' }, msg: str, data: {} },
          required: ['code', 'msg', 'data'],
        },
        CompactRecord: compactRecord,
        // Not a response: what EventBridge carries for each task change (also GET /api/v1/events.schema.json).
        TaskEvent: (({ $schema: _, ...schema }) => schema)(taskEventJsonSchema()),
      },
      responses: Object.fromEntries(
        Object.entries(errorCodes).map(([code, meaning]) => [
          `E${code}`,
          {
            description: meaning,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Envelope' } } },
          },
        ]),
      ),
    },
  };
}

export type OpenApiDocument = ReturnType<typeof buildOpenApiDocument>;

// Built once per policy and upstream (one per deployment) and kept for the life of the function instance.
const cache = new WeakMap<UrlPolicy, Map<string, string>>();

/**
 * GET /api/v1/capabilities.json: the capability table's entry for the deployment's upstream, as data
 * (null for a provider outside the table, e.g. a test's fake: it is then not checked at submit either).
 */
export function capabilitiesJson(upstream: string): string {
  const table = isUpstreamShape(upstream) ? capabilityTable[upstream] : undefined;
  const served: CapabilitiesDocument = {
    upstream,
    models: table?.models ?? null,
    options: table?.options ?? null,
    rules: table?.rules ?? null,
  };
  return JSON.stringify(served);
}

/** What GET /api/v1/capabilities.json answers (the typed client's `Capabilities` equals it). */
export interface CapabilitiesDocument {
  upstream: string;
  models: UpstreamCapabilities['models'] | null;
  options: UpstreamCapabilities['options'] | null;
  rules: UpstreamCapabilities['rules'] | null;
}

/** The document as served: JSON text, built on first use. */
export function openApiJson(policy: UrlPolicy, upstream?: string): string {
  let byUpstream = cache.get(policy);
  if (!byUpstream) {
    byUpstream = new Map();
    cache.set(policy, byUpstream);
  }
  let json = byUpstream.get(upstream ?? '');
  if (!json) {
    json = JSON.stringify(buildOpenApiDocument(policy, upstream));
    byUpstream.set(upstream ?? '', json);
  }
  return json;
}
