import * as z from 'zod';
import {
  type Duration,
  durations,
  type PersonGeneration,
  personGenerationValues,
  type Resolution,
  resolutions,
} from './capabilities';
import { taskIdSchema } from './task-id';
import { refuseUrl, type UrlPolicy } from './url-guard';
import type { VeoOptions } from './veo-options';

export { type VeoOptions, veoOptionKeys } from './veo-options';

/**
 * The request schemas of the kie.ai Veo 3.1 contract (SPEC §2). The API validates with them, and the
 * OpenAPI document (functions/http/openapi.ts) and the typed client (client/) derive from them.
 */
export const models = ['veo3', 'veo3_fast', 'veo3_lite'] as const;
export const generationTypes = [
  'TEXT_2_VIDEO',
  'FIRST_AND_LAST_FRAMES_2_VIDEO',
  'REFERENCE_2_VIDEO',
] as const;
export const aspectRatios = ['16:9', '9:16', 'Auto'] as const;

export type Model = (typeof models)[number];
export type GenerationType = (typeof generationTypes)[number];
export type AspectRatio = (typeof aspectRatios)[number];
/** An aspect ratio with `Auto` resolved: what the upstream is asked for. */
export type ConcreteAspectRatio = Exclude<AspectRatio, 'Auto'>;

export const PROMPT_MAX_CHARS = 5000;
/**
 * The prompt as sent, before trimming, in UTF-16 units: paramJson keeps it as sent, so whitespace around
 * it must be bounded too (5,000 code points may take 10,000 units; 1,000 more for the padding).
 */
export const PROMPT_MAX_RAW_UNITS = 2 * PROMPT_MAX_CHARS + 1000;
export const WATERMARK_MAX_CHARS = 100;
/** Every URL a request carries (imageUrls, callBackUrl), as sent; browsers and CDNs agree on 2,048. */
export const URL_MAX_CHARS = 2048;
/** Images a request may carry (REFERENCE_2_VIDEO takes the most). */
export const IMAGES_MAX = 3;
/** The ignored `enableFallback` may be any JSON value, but it is kept in paramJson: this many characters. */
export const IGNORED_FIELD_MAX_CHARS = 100;

/**
 * A Step Functions task token (`$$.Task.Token` of a `.waitForTaskToken` step; SendTaskSuccess takes at most
 * 2,048 characters): answered when the task ends. Only keys allowed by configuration may send one.
 */
export const TASK_TOKEN_MAX_CHARS = 2048;
const taskTokenField = z
  .string({ error: 'must be a string' })
  .min(1, 'must not be empty')
  .max(TASK_TOKEN_MAX_CHARS, `must be at most ${TASK_TOKEN_MAX_CHARS} characters`);

/** Clients often send `null` for an optional field they leave out; treat it as absent. */
const optional = <T extends z.ZodType>(schema: T) =>
  // The input type keeps the inner schema's, so z.input (the typed client, OpenAPI) stays exact.
  z.preprocess((v: z.input<T> | null | undefined) => (v === null ? undefined : v), schema.optional());

const characters = (s: string) => [...s].length;

function urlField(policy: UrlPolicy) {
  return (
    z
      .string({ error: 'must be a string' })
      // Checked as sent, before the guard parses it; a longer URL stops here.
      .max(URL_MAX_CHARS, { error: `must be at most ${URL_MAX_CHARS} characters`, abort: true })
      .superRefine((value, ctx) => {
        const problem = refuseUrl(value.trim(), policy);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      // Refinements do not reach JSON Schema: say in the OpenAPI document what the guard checks.
      .meta({
        format: 'uri',
        maxLength: URL_MAX_CHARS,
        description: `An absolute ${policy.allowHttp ? 'http(s)' : 'https'} URL; loopback, private, link-local and metadata addresses are refused`,
      })
  );
}

const promptField = z
  .string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') })
  .max(PROMPT_MAX_RAW_UNITS, {
    error: `must be at most ${PROMPT_MAX_CHARS} characters (${PROMPT_MAX_RAW_UNITS} UTF-16 units as sent)`,
    abort: true,
  })
  .trim()
  .refine((s) => s.length > 0, 'must not be empty')
  .refine((s) => characters(s) <= PROMPT_MAX_CHARS, `must be at most ${PROMPT_MAX_CHARS} characters`)
  // JSON Schema counts characters as code points, as the refinement does (OpenAPI document).
  .meta({
    minLength: 1,
    maxLength: PROMPT_MAX_CHARS,
    description: `At most ${PROMPT_MAX_CHARS} characters (Unicode code points) once trimmed; not blank`,
  });

const seedsField = z
  .number({ error: 'must be an integer between 10000 and 99999' })
  .int('must be an integer between 10000 and 99999')
  .min(10000, 'must be an integer between 10000 and 99999')
  .max(99999, 'must be an integer between 10000 and 99999');

const watermarkField = z
  .string({ error: 'must be a string' })
  .refine((s) => characters(s) <= WATERMARK_MAX_CHARS, `must be at most ${WATERMARK_MAX_CHARS} characters`)
  // A blank watermark is no watermark.
  .transform((s) => (s.trim() === '' ? undefined : s));

/** Longest negative prompt, in characters (Google documents none; kept like the watermark: bounded). */
export const NEGATIVE_PROMPT_MAX_CHARS = 1000;
/** Most videos one task may ask for (Vertex AI's sampleCount; the other upstreams make one). */
export const SAMPLE_COUNT_MAX = 4;

const resolutionField = z.enum(resolutions, { error: `must be one of ${resolutions.join(', ')}` });

const durationField = z.preprocess(
  // kie.ai's clients send the duration as a number or as its text ("8").
  // Typed as the documented number, so the OpenAPI document and the typed client show that.
  (v: Duration) => (typeof v === 'string' && /^\d+$/.test(String(v).trim()) ? Number(v) : v),
  z
    .number({ error: `must be one of ${durations.join(', ')} (seconds)` })
    .refine((n): n is Duration => (durations as readonly number[]).includes(n), {
      error: `must be one of ${durations.join(', ')} (seconds)`,
    })
    .meta({ enum: [...durations] }),
);

const negativePromptField = z
  .string({ error: 'must be a string' })
  .max(2 * NEGATIVE_PROMPT_MAX_CHARS, {
    error: `must be at most ${NEGATIVE_PROMPT_MAX_CHARS} characters`,
    abort: true,
  })
  .refine(
    (s) => characters(s.trim()) <= NEGATIVE_PROMPT_MAX_CHARS,
    `must be at most ${NEGATIVE_PROMPT_MAX_CHARS} characters`,
  )
  // A blank negative prompt is none.
  .transform((s) => (s.trim() === '' ? undefined : s.trim()))
  .meta({ maxLength: NEGATIVE_PROMPT_MAX_CHARS });

const sampleCountField = z
  .number({ error: `must be a whole number from 1 to ${SAMPLE_COUNT_MAX}` })
  .int(`must be a whole number from 1 to ${SAMPLE_COUNT_MAX}`)
  .min(1, `must be a whole number from 1 to ${SAMPLE_COUNT_MAX}`)
  .max(SAMPLE_COUNT_MAX, `must be a whole number from 1 to ${SAMPLE_COUNT_MAX}`);

/** Veo 3.1's options (issue 15), on generate and extend; each checked against the upstream at submit. */
const veoOptionFields = {
  resolution: optional(resolutionField),
  duration: optional(durationField),
  durationSeconds: optional(durationField),
  generateAudio: optional(z.boolean({ error: 'must be a boolean' })),
  negativePrompt: optional(negativePromptField),
  personGeneration: optional(
    z.enum(personGenerationValues, { error: `must be one of ${personGenerationValues.join(', ')}` }),
  ),
  sampleCount: optional(sampleCountField),
};

type VeoOptionInput = {
  resolution?: Resolution;
  duration?: Duration;
  durationSeconds?: Duration;
  generateAudio?: boolean;
  negativePrompt?: string;
  personGeneration?: PersonGeneration;
  sampleCount?: number;
};

/**
 * Resolves an alias pair (`aspectRatio` / `aspect_ratio`): both given and different is the client's
 * mistake, named; `conflict` is then true and the issue added.
 */
function alias<T>(
  ctx: z.RefinementCtx,
  [name, value]: [string, T | undefined],
  [aliasName, aliasValue]: [string, T | undefined],
): { value?: T; conflict: boolean } {
  if (value !== undefined && aliasValue !== undefined && value !== aliasValue) {
    ctx.addIssue({
      code: 'custom',
      path: [aliasName],
      message: `(${String(aliasValue)}) differs from ${name} (${String(value)}); send one of them`,
    });
    return { conflict: true };
  }
  return { value: value ?? aliasValue, conflict: false };
}

/** The options given, or undefined when the duration's alias pair disagrees (the issue is added). */
function veoOptions(ctx: z.RefinementCtx, req: VeoOptionInput): VeoOptions | undefined {
  const duration = alias(ctx, ['durationSeconds', req.durationSeconds], ['duration', req.duration]);
  if (duration.conflict) return undefined;
  const out: VeoOptions = {};
  if (req.resolution !== undefined) out.resolution = req.resolution;
  if (duration.value !== undefined) out.durationSeconds = duration.value;
  if (req.generateAudio !== undefined) out.generateAudio = req.generateAudio;
  if (req.negativePrompt !== undefined) out.negativePrompt = req.negativePrompt;
  if (req.personGeneration !== undefined) out.personGeneration = req.personGeneration;
  if (req.sampleCount !== undefined) out.sampleCount = req.sampleCount;
  return out;
}

export function generateRequestSchema(policy: UrlPolicy) {
  return z
    .object(
      {
        prompt: promptField,
        imageUrls: optional(
          z
            .array(urlField(policy), { error: 'must be an array of URLs' })
            // The generation types' own checks say how many each takes; this only stops long lists early.
            .max(16, { error: `must hold at most ${IMAGES_MAX} images`, abort: true }),
        ),
        model: optional(z.enum(models, { error: `must be one of ${models.join(', ')}` })),
        generationType: optional(
          z.enum(generationTypes, { error: `must be one of ${generationTypes.join(', ')}` }),
        ),
        aspectRatio: optional(z.enum(aspectRatios, { error: `must be one of ${aspectRatios.join(', ')}` })),
        // kie.ai's current name for it; the older `aspectRatio` stays.
        aspect_ratio: optional(z.enum(aspectRatios, { error: `must be one of ${aspectRatios.join(', ')}` })),
        ...veoOptionFields,
        seeds: optional(seedsField),
        watermark: optional(watermarkField),
        callBackUrl: optional(urlField(policy)),
        enableTranslation: optional(z.boolean({ error: 'must be a boolean' })),
        taskToken: optional(taskTokenField),
        // Deprecated by kie.ai: accepted and ignored (but kept in paramJson, so bounded).
        enableFallback: optional(
          z
            .unknown()
            .refine(
              (v) => (JSON.stringify(v)?.length ?? 0) <= IGNORED_FIELD_MAX_CHARS,
              'must be a boolean (it is ignored)',
            ),
        ),
      },
      { error: 'The request body must be a JSON object' },
    )
    .transform((req, ctx) => {
      const imageUrls = (req.imageUrls ?? []).map((u) => u.trim());
      const model = req.model ?? 'veo3_fast';
      const ratio = alias(ctx, ['aspectRatio', req.aspectRatio], ['aspect_ratio', req.aspect_ratio]);
      const options = veoOptions(ctx, req);
      if (ratio.conflict || !options) return z.NEVER;
      const aspectRatio = ratio.value ?? '16:9';
      const generationType = req.generationType ?? inferGenerationType(imageUrls.length);
      const problem = checkGenerationType(generationType, imageUrls.length, model, aspectRatio);
      if (problem) {
        ctx.addIssue({ code: 'custom', path: [problem.field], message: problem.message });
        return z.NEVER;
      }
      return {
        prompt: req.prompt,
        imageUrls,
        model,
        generationType,
        aspectRatio,
        seeds: req.seeds,
        watermark: req.watermark,
        callBackUrl: req.callBackUrl?.trim(),
        enableTranslation: req.enableTranslation ?? true,
        ...options,
      };
    });
}

export type GenerateRequest = z.output<ReturnType<typeof generateRequestSchema>>;

function inferGenerationType(images: number): GenerationType {
  if (images === 0) return 'TEXT_2_VIDEO';
  return images <= 2 ? 'FIRST_AND_LAST_FRAMES_2_VIDEO' : 'REFERENCE_2_VIDEO';
}

function checkGenerationType(
  type: GenerationType,
  images: number,
  model: Model,
  aspectRatio: AspectRatio,
): { field: string; message: string } | undefined {
  switch (type) {
    case 'TEXT_2_VIDEO':
      return images > 0 ? { field: 'imageUrls', message: 'must be empty for TEXT_2_VIDEO' } : undefined;
    case 'FIRST_AND_LAST_FRAMES_2_VIDEO':
      return images < 1 || images > 2
        ? { field: 'imageUrls', message: 'must hold 1 or 2 images for FIRST_AND_LAST_FRAMES_2_VIDEO' }
        : undefined;
    case 'REFERENCE_2_VIDEO':
      if (images < 1 || images > 3) {
        return { field: 'imageUrls', message: 'must hold 1 to 3 images for REFERENCE_2_VIDEO' };
      }
      // Lite's references depend on the upstream: the capability table decides at submit.
      if (model === 'veo3') return { field: 'model', message: 'must be veo3_fast for REFERENCE_2_VIDEO' };
      if (aspectRatio !== '16:9')
        return { field: 'aspectRatio', message: 'must be 16:9 for REFERENCE_2_VIDEO' };
      return undefined;
  }
}

export const recordInfoQuerySchema = z.object({ taskId: taskIdSchema });

/** Which of the task's videos (kie's `index`); a query string gives it as text. */
const videoIndex = z.coerce
  .number({ error: 'must be a whole number from 0' })
  .int('must be a whole number from 0')
  .min(0, 'must be a whole number from 0')
  .max(3, 'must be a whole number from 0 to 3');

/** GET /veo/get-1080p-video?taskId=&index= */
export const hdQuerySchema = z.object({
  taskId: taskIdSchema,
  // The default as metadata of the inner schema: JSON Schema shows a preprocessed field's inner schema.
  index: z.preprocess((v) => (v === undefined || v === '' ? 0 : v), videoIndex.meta({ default: 0 })),
});

/** POST /veo/get-4k-video {taskId, index, callBackUrl} */
export function fourKRequestSchema(policy: UrlPolicy) {
  return z.object(
    {
      taskId: taskIdSchema,
      index: optional(videoIndex).transform((i) => i ?? 0),
      callBackUrl: optional(urlField(policy)).transform((u) => u?.trim()),
    },
    { error: 'The request body must be a JSON object' },
  );
}

/**
 * kie.ai's extend API names the models `fast` and `quality`; the generate names are accepted too. Lite
 * is not among them: no upstream extends a Lite video (core/capabilities.ts).
 */
const extendModels = { fast: 'veo3_fast', quality: 'veo3', veo3_fast: 'veo3_fast', veo3: 'veo3' } as const;
const extendModelNames = Object.keys(extendModels) as (keyof typeof extendModels)[];

/** POST /veo/extend {taskId, prompt, seeds?, model?, watermark?, callBackUrl?} */
export function extendRequestSchema(policy: UrlPolicy) {
  return z
    .object(
      {
        taskId: taskIdSchema,
        prompt: promptField,
        seeds: optional(seedsField),
        model: optional(z.enum(extendModelNames, { error: `must be one of ${extendModelNames.join(', ')}` })),
        watermark: optional(watermarkField),
        callBackUrl: optional(urlField(policy)),
        enableTranslation: optional(z.boolean({ error: 'must be a boolean' })),
        ...veoOptionFields,
        taskToken: optional(taskTokenField),
      },
      { error: 'The request body must be a JSON object' },
    )
    .transform((req, ctx) => {
      const options = veoOptions(ctx, req);
      if (!options) return z.NEVER;
      return {
        taskId: req.taskId,
        prompt: req.prompt,
        seeds: req.seeds,
        watermark: req.watermark,
        model: extendModels[req.model ?? 'fast'],
        callBackUrl: req.callBackUrl?.trim(),
        enableTranslation: req.enableTranslation ?? true,
        ...options,
      };
    });
}

/** GET /veo/tasks?limit=&cursor= (beyond kie.ai): a page of the caller's tasks, newest first. */
export const TASKS_PAGE_DEFAULT = 20;
export const TASKS_PAGE_MAX = 100;
export const tasksQuerySchema = z.object({
  limit: z.preprocess(
    (v) => (v === undefined || v === '' ? TASKS_PAGE_DEFAULT : v),
    z.coerce
      .number({ error: `must be a whole number from 1 to ${TASKS_PAGE_MAX}` })
      .int(`must be a whole number from 1 to ${TASKS_PAGE_MAX}`)
      .min(1, `must be a whole number from 1 to ${TASKS_PAGE_MAX}`)
      .max(TASKS_PAGE_MAX, `must be a whole number from 1 to ${TASKS_PAGE_MAX}`)
      .meta({ default: TASKS_PAGE_DEFAULT }),
  ),
  cursor: z
    .string()
    .max(2048, 'is not valid')
    .regex(/^[A-Za-z0-9_-]*$/, 'is not valid')
    .optional()
    .meta({ description: 'The `nextCursor` of the previous page; opaque' }),
});

/** What an opaque cursor decodes to: the last task of the previous page, as the `byKey` index keys it. */
export const taskCursorSchema = z.strictObject({
  taskId: taskIdSchema,
  keyHash: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.number().int().nonnegative(),
});

/** POST /veo/cancel {taskId} (beyond kie.ai) */
export const cancelRequestSchema = z.object(
  { taskId: taskIdSchema },
  { error: 'The request body must be a JSON object' },
);

/** Turns the first zod issue into a message that names the field, e.g. "seeds must be an integer ...". */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'Invalid request';
  const field = issue.path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
  return field ? `${field} ${issue.message}` : issue.message;
}
