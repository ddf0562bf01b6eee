/**
 * The API's request and record types, written out in plain TypeScript so the published package's
 * declarations stand alone (no zod, no path into the server's code). They are not a second source of
 * truth: api-types.test.ts checks at compile time that each equals the type read off the API's own zod
 * schemas and record builder, so a change to the API that is not made here fails `tsc`.
 */

export type Model = 'veo3' | 'veo3_fast' | 'veo3_lite';
export type Resolution = '720p' | '1080p' | '4k';
export type DurationSeconds = 4 | 6 | 8;
export type PersonGeneration = 'allow_all' | 'allow_adult' | 'dont_allow';
export type GenerationType = 'TEXT_2_VIDEO' | 'FIRST_AND_LAST_FRAMES_2_VIDEO' | 'REFERENCE_2_VIDEO';
export type AspectRatio = '16:9' | '9:16' | 'Auto';

/** POST /veo/generate body; `null` stands for an absent field, as kie.ai's clients often send it. */
export interface GenerateRequestInput {
  prompt: string;
  imageUrls?: string[] | null;
  model?: Model | null;
  generationType?: GenerationType | null;
  aspectRatio?: AspectRatio | null;
  /** kie.ai's current name for `aspectRatio`; if both are sent they must agree. */
  aspect_ratio?: AspectRatio | null;
  resolution?: Resolution | null;
  /** Seconds; `durationSeconds` is its alias. */
  duration?: DurationSeconds | null;
  durationSeconds?: DurationSeconds | null;
  generateAudio?: boolean | null;
  negativePrompt?: string | null;
  personGeneration?: PersonGeneration | null;
  /** Videos to make (1–4, as the upstream allows); every one is in `resultUrls`. */
  sampleCount?: number | null;
  seeds?: number | null;
  watermark?: string | null;
  callBackUrl?: string | null;
  enableTranslation?: boolean | null;
  /** A Step Functions task token, answered when the task ends (keys allowed by TASK_TOKEN_KEYS only). */
  taskToken?: string | null;
  /** Deprecated by kie.ai: accepted and ignored. */
  enableFallback?: unknown;
}

/** POST /veo/get-4k-video body. */
export interface Get4kRequestInput {
  taskId: string;
  callBackUrl?: string | null;
  index?: number;
}

/** One delivery of a callback, as record-info lists them. */
export interface CallbackAttempt {
  at: number;
  /** Which callback (e.g. `generation`). */
  event?: string;
  /** 1 for the first delivery of that callback; absent on the closing "gave up" entry. */
  attempt?: number;
  status?: number;
  error?: string;
}

/** A 1080p or 4K rendition asked for. */
export interface RenditionInfo {
  resolution: string;
  index: number;
  status: string;
  resultUrl: string | null;
  /** A rendition is upscaled from the task's video; a native file is in `response.videos`. */
  made: 'upscaled';
}

/** One of a task's own videos, as the upstream made it. */
export interface VideoInfo {
  resolution: string;
  made: 'native';
}

/** GET /veo/record-info `data`. */
export interface TaskRecord {
  taskId: string;
  paramJson: string;
  createTime: number;
  completeTime: number | null;
  /** 0 waiting, 1 success, 2 failed, 3 generation failed. */
  successFlag: 0 | 1 | 2 | 3;
  response: {
    taskId: string;
    resultUrls: string[];
    originUrls: string[];
    /** An extended task's whole video (the source and its continuation stitched together). */
    fullResultUrls: string[] | null;
    resolution: string;
    videos: VideoInfo[];
  } | null;
  errorCode: number | null;
  errorMessage: string | null;
  fallbackFlag: boolean;
  state: 'waiting' | 'success' | 'fail';
  resultJson: string | null;
  failMsg: string | null;
  creditsConsumed: number;
  model: Model;
  generationType: string;
  extendsTaskId: string | null;
  aspectRatio: string;
  seeds: number;
  promptSent: string | null;
  translatedFrom: string | null;
  /** The pool's upstream (its configured name) the task went to; null until submitted. */
  upstream: string | null;
  /** What was asked: resolution, seconds, audio and number of videos (defaults filled in). */
  resolution: Resolution;
  duration: number;
  generateAudio: boolean;
  sampleCount: number;
  /** Fields accepted but not passed on by the deployment's upstream (e.g. `seeds` on the Gemini API). */
  notApplied: string[];
  renditions: RenditionInfo[];
  callbacks: CallbackAttempt[];
}
