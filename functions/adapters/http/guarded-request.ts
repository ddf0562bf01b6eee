import { promises as dns, type LookupAddress } from 'node:dns';
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestOptions } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { pipeline, type Readable, Transform } from 'node:stream';
import { checkAddress, refuseUrl, type UrlPolicy, UrlRefusedError } from '../../core/url-guard';

// Not `import http from 'node:http'`: an ESM import of node:http reads every export of the module, and its
// WebSocket getters load Node's bundled undici, ~14 ms of every cold start of the worker and the notifier.
const http = process.getBuiltinModule('node:http');
const https = process.getBuiltinModule('node:https');

// Re-exported so callers of guardedRequest find every error it throws in one place.
export { UrlRefusedError };

/** Resolves a host name to every address it has (dns.lookup with `all: true` by default). */
export type ResolveHost = (hostname: string) => Promise<readonly LookupAddress[]>;

export interface GuardedRequestOptions {
  method: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Covers name resolution, connect, response headers and the whole body. */
  timeoutMs: number;
  /** The body ends with ResponseTooLargeError once it passes this many bytes (or announces more). */
  maxResponseBytes?: number;
  policy: UrlPolicy;
  /** Replaces the system resolver (tests). */
  lookup?: ResolveHost;
  /** Names the URL in refusal messages, e.g. "callBackUrl" → "callBackUrl resolves to a private address". */
  subject?: string;
  /** Ends the request early, like the deadline, with the signal's reason (e.g. a sibling image failed). */
  signal?: AbortSignal;
}

export interface GuardedResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Read it to the end or destroy it: the timeout keeps running until it closes. */
  body: Readable;
}

export class RequestTimeoutError extends Error {
  override name = 'RequestTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`);
  }
}

export class ResponseTooLargeError extends Error {
  override name = 'ResponseTooLargeError';
  constructor(readonly limitBytes: number) {
    super(`response is larger than ${limitBytes} bytes`);
  }
}

const systemResolve: ResolveHost = (hostname) => dns.lookup(hostname, { all: true });

/**
 * The one way the service calls an untrusted URL (client callbacks, input images). The URL passes
 * the submit-time guard again, then every address its name resolves to is checked and the socket is
 * handed only those addresses, so a DNS answer that changes between check and connect (rebinding)
 * cannot reach inside. Redirects are returned as they are, never followed. TLS certificates are
 * verified against the host name as usual.
 */
export async function guardedRequest(
  rawUrl: string,
  options: GuardedRequestOptions,
): Promise<GuardedResponse> {
  const subject = options.subject ?? 'URL';
  const refused = refuseUrl(rawUrl, options.policy);
  if (refused) throw new UrlRefusedError(subject, refused);
  const url = new URL(rawUrl);
  const hostname = url.hostname.replace(/^\[|\]$/g, '');

  // One deadline for resolution, connect, headers and body; aborting tears down whatever is in flight.
  const deadline = new AbortController();
  const timer = setTimeout(
    () => deadline.abort(new RequestTimeoutError(options.timeoutMs)),
    options.timeoutMs,
  );
  const cancel = () => deadline.abort(options.signal?.reason);
  if (options.signal?.aborted) cancel();
  options.signal?.addEventListener('abort', cancel, { once: true });
  const finish = () => {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', cancel);
  };
  try {
    const addresses = await untilAborted(resolveChecked(hostname, options, subject), deadline.signal);
    return await send(url, hostname, addresses, options, deadline.signal, finish);
  } catch (error) {
    finish();
    throw error;
  }
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

async function resolveChecked(
  hostname: string,
  options: GuardedRequestOptions,
  subject: string,
): Promise<CheckedAddress[]> {
  // Literal IPs were checked by refuseUrl and are connected to without any lookup.
  if (isIP(hostname)) return [];
  const resolved = await (options.lookup ?? systemResolve)(hostname);
  if (resolved.length === 0) throw new UrlRefusedError(subject, 'does not resolve to any address');
  return resolved.map(({ address }) => {
    const checked = checkAddress(address, options.policy);
    // Every address must pass: one private answer among public ones is still a way inside.
    if (!checked.allowed)
      throw new UrlRefusedError(subject, `resolves to ${withArticle(checked.kind)} address`);
    return { address: checked.address, family: checked.family };
  });
}

function send(
  url: URL,
  hostname: string,
  addresses: CheckedAddress[],
  options: GuardedRequestOptions,
  signal: AbortSignal,
  done: () => void,
): Promise<GuardedResponse> {
  signal.throwIfAborted();
  const limit = options.maxResponseBytes ?? Number.POSITIVE_INFINITY;
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined && !hasHeader(headers, 'content-length')) {
    headers['content-length'] = String(Buffer.byteLength(options.body));
  }
  const secure = url.protocol === 'https:';
  const requestOptions: RequestOptions = {
    method: options.method,
    hostname,
    port: url.port || (secure ? 443 : 80),
    path: `${url.pathname}${url.search}`,
    headers,
    // A fresh agent per call: no pooled socket outlives the check that opened it.
    agent: false,
    lookup: pinnedLookup(addresses),
    ...(secure && !isIP(hostname) ? { servername: hostname } : {}),
  };

  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).request(requestOptions, (response) => {
      signal.removeEventListener('abort', abortRequest);
      const announced = Number(response.headers['content-length']);
      if (announced > limit) {
        request.destroy();
        done();
        reject(new ResponseTooLargeError(limit));
        return;
      }
      const body = byteLimit(limit);
      // Ending the body (read to the end, destroyed by the caller, limit or timeout) frees the socket.
      const abortBody = () => body.destroy(signal.reason);
      signal.addEventListener('abort', abortBody, { once: true });
      pipeline(response, body, () => {
        signal.removeEventListener('abort', abortBody);
        done();
      });
      resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
    });
    const abortRequest = () => request.destroy(signal.reason);
    signal.addEventListener('abort', abortRequest, { once: true });
    request.on('error', (error) => {
      signal.removeEventListener('abort', abortRequest);
      reject(error);
    });
    request.end(options.body);
  });
}

/** Hands the socket exactly the addresses that were checked, whatever it asks for. */
function pinnedLookup(addresses: CheckedAddress[]): LookupFunction {
  return (_hostname, lookupOptions, callback) => {
    const wanted = lookupOptions.family === 4 || lookupOptions.family === 6 ? lookupOptions.family : 0;
    const candidates = addresses.filter((a) => wanted === 0 || a.family === wanted);
    const first = candidates[0];
    if (!first) {
      const error: NodeJS.ErrnoException = new Error('no checked address of the requested family');
      error.code = 'ENOTFOUND';
      callback(error, '');
    } else if (lookupOptions.all) {
      callback(null, candidates);
    } else {
      callback(null, first.address, first.family);
    }
  };
}

function byteLimit(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > limit) callback(new ResponseTooLargeError(limit));
      else callback(null, chunk);
    },
  });
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name);
}

function withArticle(kind: string): string {
  return /^[aeiou]/i.test(kind) ? `an ${kind}` : `a ${kind}`;
}
