import { randomBytes, randomInt } from 'node:crypto';
import type { GenerateRequest } from '../schema';

/** Where a task is in its life; how it may move is transitions.ts. */
export type TaskStatus =
  | 'queued'
  | 'submitting'
  | 'submitted'
  | 'succeeded'
  | 'failed'
  | 'rejected'
  | 'cancelled';

/**
 * kie.ai's successFlag: 0 generating, 1 success, 2 failed, 3 created but rejected upstream.
 * kie.ai has no cancel: a cancelled task reads as failed (2), with errorCode 400 and its own message.
 */
export function successFlag(status: TaskStatus): 0 | 1 | 2 | 3 {
  switch (status) {
    case 'queued':
    case 'submitting':
    case 'submitted':
      return 0;
    case 'succeeded':
      return 1;
    case 'failed':
    case 'cancelled':
      return 2;
    case 'rejected':
      return 3;
  }
}

/** One stored video of a task: S3 keys, never URLs (URLs are signed on every read). */
export interface StoredVideo {
  key: string;
  /** The unstamped original when a watermark was applied; otherwise the same as `key`. */
  originKey: string;
  /** As the upstream made it (what the task asked for). */
  resolution: string;
}

/**
 * What the task asked the upstream to make, defaults filled in (core/capabilities.ts `applied`); a task
 * written before issue 15 has none and was an 8-second 720p video with audio.
 */
export interface AskedVideo {
  resolution: '720p' | '1080p' | '4k';
  durationSeconds: number;
  generateAudio: boolean;
  sampleCount: number;
}

/** A higher-resolution copy of one of a task's videos, made once on request (SPEC §2: 1080p and 4K). */
export type RenditionResolution = '1080p' | '4k';

export interface RenditionJob {
  resolution: RenditionResolution;
  /** Which of the task's videos (kie's `index`). */
  index: number;
  status: 'processing' | 'ready' | 'failed';
  requestedAt: number;
  /** After this instant a rendition still processing is ended (failed, refunded) by the sweeper. */
  deadlineAt?: number;
  completedAt?: number;
  /** S3 key of the finished rendition. */
  key?: string;
  /** Credits charged for it; refunded if it fails. */
  credits: number;
  /** Where to call back when it is ready (4K). */
  callBackUrl?: string;
  error?: string;
}

/** Renditions by slot, e.g. `1080p_0`: one slot per resolution and video, so each is made at most once. */
export type RenditionSlot = `${RenditionResolution}_${number}`;

export function renditionSlot(resolution: RenditionResolution, index: number): RenditionSlot {
  return `${resolution}_${index}`;
}

/** One entry of record-info's `callbacks`: a delivery attempt (HTTP status or error), or the end of retries. */
export interface CallbackAttempt {
  at: number;
  /** Which callback (a NotifyMessage event, e.g. `generation`). */
  event?: string;
  /** 1 for the first delivery of that callback; absent on the closing "gave up" entry. */
  attempt?: number;
  status?: number;
  error?: string;
}

/**
 * Where one callback's retries stand. Only the notify message carrying `next` (and `attempts`) may make
 * the next attempt, so a redelivered or duplicated message cannot start a second chain of retries.
 */
export interface CallbackChain {
  /** Delivery attempts made so far. */
  attempts: number;
  /** Token of the message that makes the next attempt; absent once the chain ended. */
  next?: string;
}

export interface Task {
  taskId: string;
  /** SHA-256 of the owner's API key: the only owner identity we keep. */
  keyHash: string;
  status: TaskStatus;
  /** The accepted request, normalised (defaults filled in). */
  request: GenerateRequest;
  /** The request body as the client sent it (kie's paramJson). */
  paramJson: string;
  /** The seed used: the client's, or one we picked. */
  seeds: number;
  /** The aspect ratio used (`Auto` resolved once the worker knows it). */
  aspectRatio: string;
  /** For an extension (POST /veo/extend): the finished task whose video this one continues. */
  extendsTaskId?: string;
  /** The prompt actually sent upstream (differs from request.prompt after translation). */
  promptSent?: string;
  /** Language the prompt was translated from, when it was. */
  translatedFrom?: string;
  provider: string;
  /**
   * The pool's upstream (its name) the task was submitted to, written with the move to submitting: its
   * polls, downloads, pushes and extensions go there (core/pool.ts).
   */
  upstream?: string;
  /** Upstreams whose generation of this task failed and which it moved away from (FAILOVER_MID_GENERATION). */
  failedUpstreams?: string[];
  /** What was asked of the upstream (resolution, seconds, audio, videos). */
  asked?: AskedVideo;
  /** Fields accepted but not passed on by this upstream (capabilities.ts: harmless to drop, e.g. `seeds`). */
  notApplied?: string[];
  /** The upstream's reference for the running generation (operation name). */
  operation?: string;
  /**
   * Set at submit when the upstream was asked to push the end of `operation` (kie.ai's callBackUrl, the
   * Gemini API's webhook): the push is awaited instead of polls `until` then, when the sweeper starts them.
   * Naming the operation keeps it from speaking for a later submit of the task (a failover's).
   */
  awaitedPush?: { operation: string; until: number };
  credits: number;
  createdAt: number;
  updatedAt: number;
  completedAt?: number;
  /** After this instant an unfinished task fails instead of being polled again. */
  deadlineAt: number;
  polls: number;
  results?: StoredVideo[];
  errorCode?: number;
  errorMessage?: string;
  callbacks?: CallbackAttempt[];
  /** Retry state of each callback, by chain key (e.g. `generation`); see core/stages/notify.ts. */
  callbackChains?: Record<string, CallbackChain>;
  renditions?: Partial<Record<RenditionSlot, RenditionJob>>;
  /** DynamoDB TTL, epoch seconds. */
  expiresAt: number;
  /** A Step Functions task token to answer when the task ends (never shown in records or events). */
  taskToken?: string;
}

/** URL-safe by construction ([A-Za-z0-9_-]) so clients can paste it into a query string. */
export function newTaskId(): string {
  return `veo_${randomBytes(12).toString('base64url')}`;
}

export function pickSeed(): number {
  return randomInt(10000, 100000);
}

export interface NewTaskInput {
  request: GenerateRequest;
  paramJson: string;
  keyHash: string;
  credits: number;
  provider: string;
  now: number;
  retentionDays: number;
  budgetSeconds: number;
}

export function newTask(input: NewTaskInput): Task {
  const { request, now } = input;
  return {
    taskId: newTaskId(),
    keyHash: input.keyHash,
    status: 'queued',
    request,
    paramJson: input.paramJson,
    seeds: request.seeds ?? pickSeed(),
    // Without images there is nothing to match, so Auto means the default 16:9.
    aspectRatio:
      request.aspectRatio === 'Auto' && request.imageUrls.length === 0 ? '16:9' : request.aspectRatio,
    provider: input.provider,
    credits: input.credits,
    createdAt: now,
    updatedAt: now,
    deadlineAt: now + input.budgetSeconds * 1000,
    polls: 0,
    // Present from the start, so a rendition or a callback's retry chain is added with one conditional write.
    renditions: {},
    callbackChains: {},
    expiresAt: Math.floor(now / 1000) + input.retentionDays * 86400,
  };
}

export function isExpired(task: Task, now: number, retentionDays: number): boolean {
  return now - task.createdAt > retentionDays * 86400 * 1000;
}
