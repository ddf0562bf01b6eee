import * as z from 'zod';
import { taskEventJsonSchema } from '../core/events';
import {
  cancelRequestSchema,
  extendRequestSchema,
  fourKRequestSchema,
  generateRequestSchema,
  hdQuerySchema,
  recordInfoQuerySchema,
  tasksQuerySchema,
} from '../core/schema';
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
  /** A body the body schema accepts: written out, as the one JSON Schema would generate is not valid. */
  bodyExample?: Record<string, unknown>;
  /** Which task the examples' `taskId` must name for the call to succeed, said in the document. */
  needs?: 'a finished 16:9 task' | 'a finished task' | 'a queued task' | 'any task';
  /** JSON Schema of the envelope's `data` on success. */
  data: JsonSchema;
  /** Error codes beyond the ones every authenticated route can answer (401, 422, 500). */
  errors?: number[];
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

/** Every operation of the API, with examples each of its schemas accepts (checked by openapi.test.ts). */
export function operations(policy: UrlPolicy): Operation[] {
  return [
    {
      method: 'post',
      path: '/api/v1/veo/generate',
      summary: 'Start a video generation',
      body: generateRequestSchema(policy),
      bodyExample: {
        prompt: 'A golden retriever running along a beach at sunset, slow motion',
        model: 'veo3_fast',
        aspectRatio: '16:9',
        seeds: 12345,
        enableTranslation: true,
      },
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
        description: "kie.ai's record, plus aspectRatio, seeds, promptSent, callbacks",
      },
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
      bodyExample: { taskId: EXAMPLE_TASK_ID, index: 0 },
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
      body: extendRequestSchema(policy),
      bodyExample: {
        taskId: EXAMPLE_TASK_ID,
        prompt: 'The dog stops, turns to the camera and barks',
        model: 'fast',
      },
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
      bodyExample: { taskId: EXAMPLE_TASK_ID },
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
            ...(op.bodyExample && { example: op.bodyExample }),
          },
        },
      },
    }),
    responses: {
      200: {
        description: 'success',
        content: { 'application/json': { schema: op.public ? op.data : envelopeOf(op.data) } },
      },
      ...Object.fromEntries(
        codes.sort((a, b) => a - b).map((code) => [code, { $ref: `#/components/responses/E${code}` }]),
      ),
    },
  };
}

export function buildOpenApiDocument(policy: UrlPolicy) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations(policy)) {
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

// Built once per policy (one per deployment) and kept for the life of the function instance.
const cache = new WeakMap<UrlPolicy, string>();

/** The document as served: JSON text, built on first use. */
export function openApiJson(policy: UrlPolicy): string {
  let json = cache.get(policy);
  if (!json) {
    json = JSON.stringify(buildOpenApiDocument(policy));
    cache.set(policy, json);
  }
  return json;
}
