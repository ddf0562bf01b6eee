import { AsyncLocalStorage } from 'node:async_hooks';
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
  const sent = sends.getStore();
  try {
    response = await fetch(url, {
      ...init,
      signal: AbortSignal.timeout(call.timeoutMs),
      ...(sent && { dispatcher: timedDispatcher(sent) }),
    } as RequestInit);
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

/** Who is told when a request leaves, within a submit that asked (VideoProvider.submit's `sent`). */
const sends = new AsyncLocalStorage<(at: number) => void>();

/** Runs a provider's submit with `sent` told when each of its requests leaves (upstreamFetch). */
export function reportingSends<T>(
  sent: ((at: number) => void) | undefined,
  submit: () => Promise<T>,
): Promise<T> {
  return sent ? sends.run(sent, submit) : submit();
}

type Dispatch = (options: unknown, handler: object) => boolean;

/**
 * A dispatcher for Node's fetch that hands each request to the global one and reports when it is written to
 * its connection: undici calls a handler's onConnect (onRequestStart from undici 7) right before it writes
 * the headers. Timed there, and not at the fetch call, because a process short of CPU may take a few
 * hundred milliseconds between the two (measured under a burst on the local stack: 70 ms median, 150 ms at
 * the 95th percentile, against 12 / 28 ms after it).
 */
function timedDispatcher(sent: (at: number) => void): { dispatch: Dispatch } {
  return {
    dispatch(options, handler) {
      const global = (globalThis as Record<symbol, { dispatch: Dispatch } | undefined>)[
        Symbol.for('undici.globalDispatcher.1')
      ];
      if (!global) throw new Error("Node's fetch dispatcher is not there");
      const timed = new Proxy(handler, {
        get(target, key) {
          const value: unknown = Reflect.get(target, key);
          if (typeof value !== 'function') return value;
          if (key !== 'onConnect' && key !== 'onRequestStart') return value.bind(target);
          return (...args: unknown[]) => {
            sent(Date.now());
            return value.apply(target, args);
          };
        },
      });
      return global.dispatch(options, timed);
    },
  };
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
