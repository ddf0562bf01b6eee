import type { Readable } from 'node:stream';
import type { GenerateMessage, NotifyMessage, PollMessage } from './messages';
import type { ConcreteAspectRatio } from './provider';
import type { CallbackAttempt, CallbackChain, RenditionJob, RenditionSlot, Task, TaskStatus } from './task';

/**
 * The ports the core needs from the outside world. Adapters in functions/adapters implement them;
 * functions/composition wires them per function, so tests and the local runtime swap adapters by construction.
 */

export interface ApiKey {
  keyHash: string;
  name: string;
  credits: number;
  webhookSecret: string;
  revoked?: boolean;
  /** Epoch ms; absent on keys made before it was recorded. */
  createdAt?: number;
  /** Epoch ms of the first revocation. */
  revokedAt?: number;
  /** New tasks allowed per window for this key; the deployment's default when absent. */
  rateLimit?: { limit: number; windowSeconds: number };
}

export interface ApiKeyStore {
  /** Strongly consistent read: credits must be exact. */
  get(keyHash: string): Promise<ApiKey | undefined>;
  put(key: ApiKey): Promise<void>;
}

/** What an operator does to keys (the keys tool); the functions only need ApiKeyStore. */
export interface ApiKeyAdmin extends ApiKeyStore {
  /** Every key, read consistently. */
  list(): Promise<ApiKey[]>;
  /**
   * Adds `delta` credits (negative takes them away) in one atomic update and returns the new balance;
   * undefined for an unknown key. Throws InsufficientCreditsError when the balance would go below 0.
   */
  addCredits(keyHash: string, delta: number): Promise<number | undefined>;
  /** Marks the key revoked (keeping the first revocation time); false for an unknown key. */
  revoke(keyHash: string, at: number): Promise<boolean>;
  /** Replaces the key's webhook secret; false for an unknown key. */
  setWebhookSecret(keyHash: string, secret: string): Promise<boolean>;
}

/** Credits moved together with a task write, in one transaction. */
export interface CreditChange {
  keyHash: string;
  credits: number;
}

/** A window of at most `limit` grants per `windowMs` for one scope (e.g. a key's new tasks). */
export interface RateWindow {
  scope: string;
  limit: number;
  windowMs: number;
}

export interface TaskStore {
  /**
   * Writes a new task and charges its credits atomically; throws InsufficientCreditsError when short, and
   * ApiKeyRefusedError when the key is revoked. With `idempotency`, the record is written in the same
   * transaction only if its key is unused (or expired); otherwise nothing is written and
   * IdempotencyConflictError carries the stored record. With `rate`, one slot of that window (the counter
   * QuotaGate keeps for the same scope) is taken in the same transaction; RateLimitedError when none is
   * free. One round trip when nothing contends.
   */
  createCharged(
    task: Task,
    charge: CreditChange,
    options?: { idempotency?: IdempotencyRecord; rate?: RateWindow },
  ): Promise<void>;
  /** The unexpired record stored for a key's Idempotency-Key, read consistently. */
  findIdempotency(
    keyHash: string,
    idempotencyKey: string,
    now: number,
  ): Promise<IdempotencyRecord | undefined>;
  get(taskId: string): Promise<Task | undefined>;
  /** The task and its owner's API key, both read consistently in one round trip. */
  getWithOwner(taskId: string, keyHash: string): Promise<{ task?: Task; owner?: ApiKey }>;
  /**
   * One page of a key's tasks created after `createdAfter` (epoch ms), newest first, starting after
   * `cursor`; `next` is absent on the last page.
   */
  listByKey(
    keyHash: string,
    limit: number,
    cursor?: TaskCursor,
    createdAfter?: number,
  ): Promise<{ tasks: Task[]; next?: TaskCursor }>;
  /**
   * Moves a task from `from` to `patch.status` (or updates it in place) only if it is still in `from`.
   * Returns false when another writer got there first. A refund is applied in the same transaction, and
   * with `slot` one slot of that window (the counter QuotaGate keeps for the same scope), or nothing is
   * written and RateLimitedError says when the next slot frees.
   */
  transition(
    taskId: string,
    from: TaskStatus,
    patch: Partial<Omit<Task, 'taskId' | 'keyHash'>>,
    refund?: CreditChange,
    slot?: RateWindow,
  ): Promise<boolean>;
  /**
   * Appends callback attempts to the task. With `chain`, only while that callback's retry chain is still
   * at `chain.from` (absent: not started), moving it to `chain.to` in the same write; false when it is
   * not (another delivery of the same notify message got there first). Without `chain`, always appends.
   */
  recordCallback(taskId: string, attempts: CallbackAttempt[], chain?: CallbackChainMove): Promise<boolean>;
  /**
   * Adds a rendition job to a succeeded task if its slot is free (or its last attempt failed), charging
   * in the same transaction. Returns false when the slot is taken: each rendition is made at most once.
   * Throws InsufficientCreditsError when the key cannot pay, ApiKeyRefusedError when it is revoked.
   */
  startRendition(
    taskId: string,
    slot: RenditionSlot,
    job: RenditionJob,
    charge?: CreditChange,
  ): Promise<boolean>;
  /** Ends a processing rendition (ready or failed), refunding in the same transaction; false if it was not processing. */
  finishRendition(
    taskId: string,
    slot: RenditionSlot,
    outcome: Pick<RenditionJob, 'status' | 'key' | 'completedAt' | 'error'>,
    refund?: CreditChange,
  ): Promise<boolean>;
}

/** What an Idempotency-Key on a submit stands for: the request it came with and the task it made. */
export interface IdempotencyRecord {
  keyHash: string;
  idempotencyKey: string;
  /** SHA-256 of the route and the canonical request body. */
  bodyHash: string;
  taskId: string;
  /** Epoch seconds; the key may be reused after this (DynamoDB TTL removes the record later). */
  expiresAt: number;
}

/** Where a page of TaskStore.listByKey ends: its last task, as the per-key index keys it. */
export interface TaskCursor {
  taskId: string;
  keyHash: string;
  createdAt: number;
}

/** A callback's retry chain (`Task.callbackChains[key]`) moving on by one attempt. */
export interface CallbackChainMove {
  key: string;
  from?: CallbackChain;
  to: CallbackChain;
}

export type { GenerateMessage, NotifyMessage, PollMessage } from './messages';
export * from './provider';

export interface TaskQueues {
  generate(message: GenerateMessage, delaySeconds?: number): Promise<void>;
  poll(message: PollMessage, delaySeconds: number): Promise<void>;
  /** A delay over SQS's 15 minutes is cut to 15 minutes (callbacks re-send with `notBefore`). */
  notify(message: NotifyMessage, delaySeconds?: number): Promise<void>;
}

export interface VideoStore {
  /** Streams the body into the store without holding the whole file in memory. */
  put(key: string, body: Readable, contentType: string): Promise<void>;
  /** Streams a stored object back. */
  open(key: string): Promise<Readable>;
  /** A time-limited URL anyone can GET the object from. */
  url(key: string): Promise<string>;
}

export type ImageMimeType = 'image/png' | 'image/jpeg' | 'image/webp';

/** An input image as fetched by the worker (and centre-cropped when the aspect ratio was Auto). */
export interface SourceImage {
  bytes: Buffer;
  mimeType: ImageMimeType;
  width: number;
  height: number;
}

/** Fetches untrusted image URLs through the URL guard, with a size limit, a timeout and type sniffing. */
export interface ImageFetcher {
  /** Throws ImageRejectedError for anything the client must fix. */
  fetch(url: string): Promise<SourceImage>;
}

export interface ImageCropper {
  /** Centre-crops the image to the aspect ratio (no resize beyond the crop). */
  crop(image: SourceImage, aspectRatio: ConcreteAspectRatio): Promise<SourceImage>;
}

export interface Translation {
  text: string;
  /** ISO 639-1 code of the detected source language, e.g. "zh"; "en" when nothing was translated. */
  sourceLanguage: string;
}

export interface Translator {
  toEnglish(text: string): Promise<Translation>;
}

/** Stamps a text watermark on a video (ffmpeg). */
export interface VideoWatermarker {
  stamp(video: Readable, text: string): Promise<Readable>;
}

/** Makes a higher-resolution copy of a video (the 1080p and 4K renditions). */
export interface VideoUpscaler {
  upscale(video: Readable, width: number, height: number): Promise<Readable>;
}

/** A rate shared by every worker instance, e.g. the upstream's submit quota. */
export interface QuotaGate {
  /**
   * Takes one slot if one is free now; otherwise says how long to wait for the next. `limit` overrides
   * the gate's configured limit for the scope (per-key rate limits, where each key may have its own).
   * `contended`: refused only because other instances kept winning the race, not because it is full.
   */
  tryAcquire(
    scope: string,
    limit?: { limit: number; windowMs: number },
  ): Promise<{ granted: true } | { granted: false; retryAfterMs: number; contended?: boolean }>;
}

export interface CallbackDelivery {
  url: string;
  body: string;
  headers: Record<string, string>;
}

export interface CallbackSender {
  /** POSTs the callback; resolves with the HTTP status, rejects on network errors and timeouts. */
  send(delivery: CallbackDelivery): Promise<number>;
}
