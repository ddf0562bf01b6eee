import * as z from 'zod';
import { eventSource, type TaskEventDetailType, taskEventTypes } from './task/change';

/**
 * The task events' schemas (issue 19): EventBridge's envelope around record-info's data. The JSON Schema
 * published at GET /api/v1/events.schema.json is generated from these.
 */
const nullableString = z.string().nullable();
const renditionSchema = z.object({
  resolution: z.string().meta({ description: '1080p or 4k' }),
  index: z.number().int().nonnegative(),
  status: z.string().meta({ description: 'processing, ready or failed' }),
  resultUrl: nullableString,
  made: z.literal('upscaled'),
});

/** record-info's data (core/task/record.ts `toRecord`), as the event's detail carries it. */
export const taskRecordSchema = z.object({
  taskId: z.string(),
  paramJson: z.string(),
  createTime: z.number().int(),
  completeTime: z.number().int().nullable(),
  successFlag: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]),
  response: z
    .object({
      taskId: z.string(),
      resultUrls: z.array(z.string()),
      originUrls: z.array(z.string()),
      fullResultUrls: z.array(z.string()).nullable(),
      resolution: z.string(),
      videos: z.array(z.object({ resolution: z.string(), made: z.literal('native') })),
    })
    .nullable(),
  errorCode: z.number().int().nullable(),
  errorMessage: nullableString,
  fallbackFlag: z.boolean(),
  state: z.enum(['waiting', 'success', 'fail']),
  resultJson: nullableString,
  failMsg: nullableString,
  creditsConsumed: z.number().int(),
  model: z.string(),
  generationType: z.string().optional(),
  extendsTaskId: nullableString,
  aspectRatio: z.string(),
  seeds: z.number().int(),
  promptSent: nullableString,
  translatedFrom: nullableString,
  upstream: nullableString,
  resolution: z.string(),
  duration: z.number().int(),
  generateAudio: z.boolean(),
  sampleCount: z.number().int(),
  notApplied: z.array(z.string()),
  renditions: z.array(renditionSchema),
  callbacks: z.array(
    z.object({
      at: z.number(),
      event: z.string().optional(),
      attempt: z.number().int().optional(),
      status: z.number().int().optional(),
      error: z.string().optional(),
    }),
  ),
});

export const taskEventDetailSchema = taskRecordSchema.extend({
  /** Our status (record-info's successFlag 0 covers both queued and submitted). */
  status: z.enum(['queued', 'submitted', 'succeeded', 'failed', 'rejected', 'cancelled']),
  /** Rendition events: which one, and how it ended. */
  rendition: z
    .object({
      slot: z.string(),
      resolution: z.enum(['1080p', '4k']),
      index: z.number().int().nonnegative(),
      status: z.enum(['ready', 'failed']),
      error: nullableString,
    })
    .optional(),
});
export type TaskEventDetail = z.infer<typeof taskEventDetailSchema>;

/** The event as a rule's target receives it (EventBridge's envelope around our detail). */
export const taskEventSchema = z
  .object({
    version: z.literal('0'),
    id: z.string(),
    'detail-type': z.enum(Object.values(taskEventTypes) as [TaskEventDetailType, ...TaskEventDetailType[]]),
    source: z.literal(eventSource),
    account: z.string(),
    time: z.string(),
    region: z.string(),
    resources: z.array(z.string()),
    detail: taskEventDetailSchema,
  })
  .meta({
    title: 'Veo task event',
    description:
      "One task state change or rendition end on EventBridge. detail is record-info's data when the change " +
      "happened; its presigned URLs were signed when the event was published and expire like record-info's " +
      '(read record-info again for fresh ones).',
  });

/** JSON Schema of the events, published next to the OpenAPI document (GET /api/v1/events.schema.json). */
export function taskEventJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(taskEventSchema, { target: 'draft-2020-12' }) as Record<string, unknown>;
}

/** What the publisher sends: the adapter wraps it in its bus's envelope. */
export interface TaskEvent {
  detailType: TaskEventDetailType;
  /** Epoch ms of the change. */
  time: number;
  detail: TaskEventDetail;
  /** Deduplication hint for consumers: the same for every publication of one change. */
  id: string;
}

export type TaskEventEnvelope = z.infer<typeof taskEventSchema>;
