import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { UpstreamUnavailableError } from '../../core/errors';
import type { VideoDownload } from '../../core/ports';

/**
 * The HTTP habits every provider shares: a timeout on every call; network errors, timeouts, 408, 429 and
 * 5xx become UpstreamUnavailableError (retried within the task's budget); any other non-2xx becomes a
 * plain Error with a short message that never carries a credential.
 */

/** A credential given as is, or fetched once on first use (e.g. from Secrets Manager). */
export type Secret = string | (() => Promise<string>);

export function secretResolver(secret: Secret | undefined): () => Promise<string | undefined> {
  let pending: Promise<string | undefined> | undefined;
  return () => {
    if (secret === undefined || typeof secret === 'string') return Promise.resolve(secret);
    pending ??= secret().catch((error: unknown) => {
      pending = undefined; // a failed fetch is tried again on the next call
      throw error;
    });
    return pending;
  };
}

export interface UpstreamCall {
  /** The provider's name, used in error messages. */
  provider: string;
  timeoutMs: number;
  /** Values to scrub from any error text (keys and tokens). */
  secrets: (string | undefined)[];
}

/**
 * Fetches with the call's timeout and maps failures as above. `passThrough` hands back non-2xx answers
 * whose body the caller reads itself (kie's envelope); transient statuses are mapped all the same.
 */
export async function upstreamFetch(
  call: UpstreamCall,
  url: string,
  init: RequestInit,
  passThrough?: (status: number) => boolean,
): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(call.timeoutMs) });
  } catch (error) {
    throw new UpstreamUnavailableError(
      `${call.provider} unreachable: ${scrub(reasonOf(error), call.secrets)}`,
      {
        fate: fateOf(error),
      },
    );
  }
  if (response.ok || (passThrough?.(response.status) && !isTransientStatus(response.status))) return response;
  const detail = scrub(await errorDetail(response), call.secrets);
  const message = `${call.provider} answered HTTP ${response.status}${detail ? `: ${detail}` : ''}`;
  if (isTransientStatus(response.status))
    throw new UpstreamUnavailableError(message, { rateLimited: response.status === 429 });
  throw new UpstreamHttpError(response.status, message);
}

/**
 * An API call (not a video download from elsewhere): the credential's `authHeaders` on it, and a JSON
 * content type when it has a body; the credential itself belongs in `call.secrets`.
 */
export function apiFetch(
  call: UpstreamCall,
  url: URL,
  init: RequestInit,
  authHeaders: Record<string, string>,
  passThrough?: (status: number) => boolean,
): Promise<Response> {
  const headers: Record<string, string> = { ...authHeaders };
  if (init.body) headers['content-type'] = 'application/json';
  return upstreamFetch(call, url.toString(), { ...init, headers }, passThrough);
}

/** A non-transient HTTP answer, with its status (e.g. Google's 404 for a model it does not know). */
export class UpstreamHttpError extends Error {
  override name = 'UpstreamHttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** The readable part of an error body: Google's `error.message`, kie's `msg`, or the start of the text. */
async function errorDetail(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as {
      error?: { message?: unknown } | string;
      msg?: unknown;
      error_description?: unknown;
    };
    const message =
      typeof body.error === 'object'
        ? body.error?.message
        : (body.error_description ?? body.msg ?? body.error);
    if (typeof message === 'string') return shorten(message);
  } catch {
    // not JSON: fall through to the raw text
  }
  return shorten(text.replace(/\s+/g, ' ').trim());
}

export function shorten(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

export function scrub(text: string, secrets: (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join('<redacted>');
  return out;
}

/** Connection errors that happen before the request is sent; anything else may have reached the upstream. */
const neverSent = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Whether a failed fetch surely sent nothing (`refused`), or may have (`unknown`: a timeout, a reset). */
export function fateOf(error: unknown): 'refused' | 'unknown' {
  let cause: unknown = error;
  for (let depth = 0; depth < 4 && cause instanceof Error; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && neverSent.has(code)) return 'refused';
    cause = (cause as { cause?: unknown }).cause;
  }
  return 'unknown';
}

function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return 'timed out';
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}

export function streamed(response: Response, fallbackType = 'video/mp4'): VideoDownload {
  if (!response.body) throw new UpstreamUnavailableError('video download returned no body');
  return {
    body: Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
    contentType: response.headers.get('content-type') ?? fallbackType,
  };
}

export function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/** An upstream-given video URL, checked: http(s) only, and through the caller's guard when given. */
export function checkedVideoUrl(
  provider: string,
  video: string,
  guard?: (url: string) => string | undefined,
): URL {
  if (!URL.canParse(video)) throw new Error(`${provider}: the video reference is not a URL`);
  const url = new URL(video);
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new Error(`${provider}: not an http(s) video URL`);
  const problem = guard?.(video);
  if (problem) throw new Error(`${provider}: video URL refused: ${problem}`);
  return url;
}

/** A request header by name, whatever its case (API Gateway and Node hand them over differently). */
export function header(headers: Record<string, string | undefined>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}
