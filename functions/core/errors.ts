/**
 * The error catalogue: every error a client can see, with kie.ai's codes and wording.
 * Core code throws these; the HTTP layer turns them into the `{code,msg,data}` envelope in one place.
 */
export type KieCode = 400 | 401 | 402 | 404 | 413 | 422 | 429 | 455 | 500 | 501 | 505;

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

export const errors = {
  unauthorized: () =>
    new KieError(
      401,
      'You do not have access permissions: a valid API key is required (Authorization: Bearer <key>)',
    ),
  insufficientCredits: (needed: number, balance: number) =>
    new KieError(402, `Credits insufficient: this task costs ${needed} credits, the balance is ${balance}`),
  noRoute: (method: string, path: string) => new KieError(404, `Not found: no route for ${method} ${path}`),
  payloadTooLarge: () => new KieError(413, 'Request body too large'),
  validation: (message: string) => new KieError(422, message),
  recordNull: () => new KieError(422, 'record is null'),
  notCancellable: () => new KieError(422, 'the task can no longer be cancelled'),
  invalidCursor: () => new KieError(422, 'cursor is not valid'),
  recordExpired: (days: number) => new KieError(422, `Temporarily supports records within ${days} days`),
  tooManyRequests: (limit: number, windowSeconds: number) =>
    new KieError(
      429,
      `Too many requests: at most ${limit} new tasks per ${windowSeconds} seconds for this key`,
    ),
  internal: () => new KieError(500, 'Internal server error'),
  featureDisabled: (message: string) => new KieError(505, message),
} as const;

/** Why a generation ended without a video, as recorded on the task and sent in callbacks. */
export const failureMessages = {
  /** kie.ai's wording for a prompt or image the upstream's content filter refused. */
  rejected: (reason: string) =>
    `Your request was rejected by Flow(${reason}). You may consider using our other fallback channels, which are likely to succeed. Please refer to the documentation.`,
  timedOut: (seconds: number) => `Generation did not finish within ${seconds} seconds`,
  upstreamFailed: (reason: string) => `Generation failed: ${reason}`,
  queueUnavailable: 'The task could not be queued; its credits were refunded',
  interrupted:
    'The submission to the upstream was interrupted and its outcome is unknown; the task was ended rather than risk generating twice, and its credits were refunded',
  cancelled: 'cancelled by the client',
  watermarkDisabled: 'watermark is disabled on this deployment (no ffmpeg available to the poller)',
} as const;
