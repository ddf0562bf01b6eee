/**
 * The error catalogue, in one place: every domain error the core and its adapters throw, every message a
 * client can read (responses, records, callbacks), and the one mapping of both to kie.ai's
 * `{code,msg,data}` envelope (`toKieError`, used by functions/http/envelope.ts). It imports nothing.
 */
export type KieCode = 400 | 401 | 402 | 404 | 413 | 422 | 429 | 455 | 500 | 501 | 505;

/** An error the client sees as it is: kie.ai's code, message and data. */
export class KieError extends Error {
  constructor(
    readonly code: KieCode,
    message: string,
    readonly data: unknown = null,
  ) {
    super(message);
    this.name = 'KieError';
  }
}

// ---- Domain errors: thrown by the core and by adapters, mapped below. ----

/** A charge found the key's balance short: nothing was written. */
export class InsufficientCreditsError extends Error {
  constructor(readonly balance: number) {
    super('insufficient credits');
  }
}

/**
 * The key was revoked (or removed) by the time a charge was written: the API may authenticate from a short
 * cache, so the charge itself refuses revoked keys and no new charged work starts after a revocation.
 */
export class ApiKeyRefusedError extends Error {
  override name = 'ApiKeyRefusedError';
  constructor() {
    super('the API key is revoked or gone');
  }
}

/**
 * No slot of the rate window is free: nothing was written. `contended`: refused only because other
 * instances kept winning the race for the counter, not because the window is full.
 */
export class RateLimitedError extends Error {
  override name = 'RateLimitedError';
  constructor(
    readonly retryAfterMs: number,
    readonly contended = false,
  ) {
    super('rate limited');
  }
}

/** A concurrent submit won the Idempotency-Key; `existing` is what it stands for. */
export class IdempotencyConflictError extends Error {
  override name = 'IdempotencyConflictError';
  constructor(readonly existing: { bodyHash: string; taskId: string }) {
    super('idempotency key already used');
  }
}

/** An input of the task the client must fix (an image, the video to extend): the task fails with 422. */
export class InputRejectedError extends Error {
  override name = 'InputRejectedError';
}

/** The problem with an input image, worded for the client (e.g. "is larger than 20 MB"). */
export class ImageRejectedError extends InputRejectedError {
  override name = 'ImageRejectedError';
}

/**
 * The upstream does not know the model id it was sent (retired, like a preview id, or mistyped): no retry
 * can help; the deployment's setting for that model must change.
 */
export class ModelNotFoundError extends Error {
  override name = 'ModelNotFoundError';
  constructor(
    readonly modelId: string,
    readonly model: 'veo3' | 'veo3_fast' | 'veo3_lite',
  ) {
    super(`the upstream does not know model ${modelId}`);
  }
}

/** Where a deployment sets each model's upstream id: the environment variable and the CDK context key. */
export const modelIdSettings = {
  veo3: { env: 'VEO3_MODEL_ID', context: 'veo3ModelId' },
  veo3_fast: { env: 'VEO3_FAST_MODEL_ID', context: 'veo3FastModelId' },
  veo3_lite: { env: 'VEO3_LITE_MODEL_ID', context: 'veo3LiteModelId' },
} as const;

/**
 * The upstream cannot be asked now (network error, timeout, 408, 429, 5xx): retry later, within the task's
 * budget. `fate` says whether a submit surely did not start anything: `refused` (answered, or never
 * connected), or `unknown` (the request went out and no answer came: it may be generating), which is never
 * sent again. Also thrown by the translator when the translation service is unavailable.
 */
export class UpstreamUnavailableError extends Error {
  override name = 'UpstreamUnavailableError';
  readonly fate: 'refused' | 'unknown';
  /** Refused for its rate (HTTP 429, kie's code 429): the upstream is up, its quota is not. */
  readonly rateLimited: boolean;
  constructor(
    message: string,
    options?: ErrorOptions & { fate?: 'refused' | 'unknown'; rateLimited?: boolean },
  ) {
    super(message, options);
    this.fate = options?.fate ?? 'refused';
    this.rateLimited = options?.rateLimited ?? false;
  }
}

/** A task move the state machine does not allow (core/task/transitions.ts): a bug, never the client's doing. */
export class IllegalTransitionError extends Error {
  override name = 'IllegalTransitionError';
  constructor(
    readonly from: string,
    readonly to: string,
  ) {
    super(`a task cannot move from ${from} to ${to}`);
  }
}

// ---- Messages a client reads. ----

/** Why a generation ended without a video, as recorded on the task and sent in callbacks. */
export const failureMessages = {
  /** kie.ai's wording for a prompt or image the upstream's content filter refused. */
  rejected: (reason: string) => `Your request was rejected by Flow(${reason}).`,
  timedOut: (seconds: number) => `Generation did not finish within ${seconds} seconds`,
  upstreamFailed: (reason: string) => `Generation failed: ${reason}`,
  modelNotFound: (error: ModelNotFoundError) =>
    `Generation failed: the upstream does not know model ${error.modelId}; set ${modelIdSettings[error.model].env} (context ${modelIdSettings[error.model].context})`,
  queueUnavailable: 'The task could not be queued; its credits were refunded',
  interrupted:
    'The submission to the upstream was interrupted and its outcome is unknown; the task was ended rather than risk generating twice, and its credits were refunded',
  cancelled: 'cancelled by the client',
  deadLettered:
    'The task could not be processed after repeated attempts; it was ended and its credits were refunded',
  renditionTimedOut: (seconds: number) => `Rendition did not finish within ${seconds} seconds`,
  watermarkDisabled: 'watermark is disabled on this deployment (no ffmpeg available to the poller)',
} as const;

/** The 1080p and 4K endpoints' answers (kie.ai's wording where it has one). */
export const renditionMessages = {
  processing1080p: '1080P is processing. It should be ready in 1-2 minutes.',
  processing4k: '4k is processing. It should be ready in 5-10 minutes.',
  done4k: 'The video has been generated successfully',
  notSuccess: 'record status is not success',
  disabled: 'Renditions are disabled on this deployment (no ffmpeg available to the poller)',
} as const;

export const idempotencyMessages = {
  invalid: 'Idempotency-Key must be 1 to 255 visible ASCII characters',
  reused:
    'Idempotency-Key was already used with a different request body in the last 24 hours; use a new key for a new request',
} as const;

/** Every KieError a client can get, by name. */
export const errors = {
  unauthorized: () =>
    new KieError(
      401,
      'You do not have access permissions: a valid API key is required (Authorization: Bearer <key>)',
    ),
  iamUnmapped: () =>
    new KieError(401, 'You do not have access permissions: this IAM principal is not mapped to an API key'),
  insufficientCredits: (needed: number, balance: number) =>
    new KieError(402, `Credits insufficient: this task costs ${needed} credits, the balance is ${balance}`),
  noRoute: (method: string, path: string) => new KieError(404, `Not found: no route for ${method} ${path}`),
  payloadTooLarge: () => new KieError(413, 'Request body too large'),
  validation: (message: string) => new KieError(422, message),
  recordNull: () => new KieError(422, 'record is null'),
  notCancellable: () => new KieError(422, 'the task can no longer be cancelled'),
  invalidCursor: () => new KieError(422, 'cursor is not valid'),
  recordExpired: (days: number) => new KieError(422, `Temporarily supports records within ${days} days`),
  idempotencyKeyInvalid: () => new KieError(422, idempotencyMessages.invalid),
  idempotencyKeyReused: () => new KieError(422, idempotencyMessages.reused),
  notSucceeded: () => new KieError(422, renditionMessages.notSuccess),
  processing1080p: () => new KieError(400, renditionMessages.processing1080p),
  processing4k: () => new KieError(422, renditionMessages.processing4k),
  done4k: (taskId: string, resultUrls: string[]) =>
    new KieError(422, renditionMessages.done4k, { taskId, resultUrls, imageUrls: null }),
  renditionsDisabled: () => new KieError(505, renditionMessages.disabled),
  watermarkDisabled: () => new KieError(505, failureMessages.watermarkDisabled),
  tooManyRequests: (limit: number, windowSeconds: number) =>
    new KieError(
      429,
      `Too many requests: at most ${limit} new tasks per ${windowSeconds} seconds for this key`,
    ),
  internal: () => new KieError(500, 'Internal server error'),
} as const;

/**
 * The one mapping of errors to what the client sees: a KieError as it is, a domain error a client may
 * meet as its KieError (`charge`: the credits the refused write asked for), anything else unchanged
 * (the envelope answers it with a bare 500).
 */
export function toKieError(error: unknown, context: { charge?: number } = {}): unknown {
  if (error instanceof KieError) return error;
  if (error instanceof InsufficientCreditsError) {
    return errors.insufficientCredits(context.charge ?? 0, error.balance);
  }
  if (error instanceof ApiKeyRefusedError) return errors.unauthorized();
  return error;
}
