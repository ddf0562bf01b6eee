import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
// `.js` in relative imports: the published declarations must resolve under Node's own ESM rules.
import type {
  Capabilities,
  ExtendRequestInput,
  GenerateRequestInput,
  Get4kRequestInput,
  RenditionInfo,
  TaskRecord,
} from './api-types.js';

/**
 * A typed client of the veo-serverless API, which is also kie.ai's Veo 3.1 API: point it at either. It
 * loads nothing but Node built-ins; its request and record types (api-types.ts) are checked against the
 * API's own zod schemas and record builder.
 */

/** kie.ai's envelope around every answer; the HTTP status equals `code`. */
export interface Envelope<T> {
  code: number;
  msg: string;
  data: T;
}

export type {
  AspectRatio,
  CallbackAttempt,
  Capabilities,
  CapabilityRule,
  DurationSeconds,
  ExtendRequestInput,
  GenerateRequestInput,
  GenerationType,
  Get4kRequestInput,
  Model,
  PersonGeneration,
  RenditionInfo,
  Resolution,
  TaskRecord,
  VideoInfo,
} from './api-types.js';

/** The 1080p rendition: its URL, or not yet (the API's 400 "processing" is a state, not an error). */
export type Get1080pResult = { ready: true; resultUrl: string } | { ready: false; msg: string };

/** What asking for a 4K rendition found: started now, already running, or already made (with its URL). */
export interface Get4kResult {
  status: 'started' | 'processing' | 'ready';
  msg: string;
  resultUrls: string[] | null;
}

export interface VeoClientOptions {
  /** e.g. http://127.0.0.1:8080 or https://api.kie.ai (a trailing /api/v1 is accepted too). */
  baseUrl: string;
  apiKey: string;
  fetch?: typeof fetch;
  /** Time limit of one API call (downloads have none); 30 s by default. */
  requestTimeoutMs?: number;
}

export interface WaitProgress {
  taskId: string;
  elapsedMs: number;
  /** kie's `state` (waiting | success | fail) or the rendition's (starting | processing | ready | failed). */
  state: string;
  /** Set when this poll failed transiently (network, 429, 5xx); polling goes on until the timeout. */
  error?: Error;
}

export interface WaitOptions {
  intervalMs?: number;
  /** Give up after this long with a VeoWaitTimeoutError; 30 minutes by default. */
  timeoutMs?: number;
  onProgress?: (progress: WaitProgress) => void;
  signal?: AbortSignal;
}

/** An answer of the API other than 200: its own `code`, `msg` and `data`. */
export class VeoApiError extends Error {
  override readonly name = 'VeoApiError';
  constructor(
    readonly code: number,
    readonly msg: string,
    readonly data: unknown = null,
  ) {
    super(msg);
  }
}

export class VeoWaitTimeoutError extends Error {
  override readonly name = 'VeoWaitTimeoutError';
  constructor(
    readonly taskId: string,
    readonly elapsedMs: number,
    readonly lastState: string,
  ) {
    super(`Task ${taskId} is still ${lastState} after ${Math.round(elapsedMs / 1000)} s`);
  }
}

export class VeoDownloadError extends Error {
  override readonly name = 'VeoDownloadError';
  constructor(readonly status: number) {
    super(`Download failed with HTTP ${status}`);
  }
}

const DEFAULT_INTERVAL_MS = 5000;
const DEFAULT_TIMEOUT_MS = 30 * 60_000;
/** Codes worth polling through: rate limit, maintenance and server-side trouble. */
const TRANSIENT_CODES = new Set([429, 455, 500, 502, 503, 504]);

type PollStep<T> = { done: true; value: T } | { done: false; state: string };

export class VeoClient {
  private readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly fetch: typeof fetch;
  private readonly requestTimeoutMs: number;

  constructor({ baseUrl, apiKey, fetch: fetchImpl, requestTimeoutMs = 30_000 }: VeoClientOptions) {
    this.baseUrl = baseUrl.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
    this.apiKey = apiKey;
    this.fetch = fetchImpl ?? globalThis.fetch;
    this.requestTimeoutMs = requestTimeoutMs;
  }

  /** POST /veo/generate. An `idempotencyKey` makes a retried submit return the same task. */
  generate(
    request: GenerateRequestInput,
    options: { idempotencyKey?: string } = {},
  ): Promise<{ taskId: string }> {
    const headers: Record<string, string> = {};
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    return this.call('POST', '/api/v1/veo/generate', { body: request, headers });
  }

  /** GET /veo/record-info: any task kind (generation, extend, 1080p, 4K). */
  recordInfo(taskId: string): Promise<TaskRecord> {
    return this.call('GET', '/api/v1/veo/record-info', { query: { taskId } });
  }

  /** GET /chat/credit: the key's remaining credits. */
  credit(): Promise<number> {
    return this.call('GET', '/api/v1/chat/credit');
  }

  /**
   * GET /api/v1/capabilities.json (veo-serverless only, no key needed): what the deployment's upstream
   * can do, each rule with its source. Served as is, not in the envelope.
   */
  async capabilities(): Promise<Capabilities> {
    const response = await this.fetch(`${this.baseUrl}/api/v1/capabilities.json`, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(this.requestTimeoutMs),
    });
    if (!response.ok) throw new VeoApiError(response.status, `HTTP ${response.status}: no capabilities here`);
    return (await response.json()) as Capabilities;
  }

  /** GET /veo/get-1080p-video. The first call starts the rendition; ask again until it is ready. */
  async get1080p(taskId: string, index = 0): Promise<Get1080pResult> {
    try {
      const data = await this.call<{ resultUrl: string }>('GET', '/api/v1/veo/get-1080p-video', {
        query: { taskId, index: String(index) },
      });
      return { ready: true, resultUrl: data.resultUrl };
    } catch (error) {
      if (error instanceof VeoApiError && error.code === 400) return { ready: false, msg: error.msg };
      throw error;
    }
  }

  /**
   * POST /veo/get-4k-video. kie.ai answers a repeat request with 422 ("4k is processing", or "The video
   * has been generated successfully" with the URLs); those are states, so they come back as results.
   */
  async get4k(request: Get4kRequestInput): Promise<Get4kResult> {
    try {
      await this.call('POST', '/api/v1/veo/get-4k-video', { body: request });
      return { status: 'started', msg: 'success', resultUrls: null };
    } catch (error) {
      if (!(error instanceof VeoApiError) || error.code !== 422) throw error;
      const resultUrls = urlsIn(error.data);
      if (resultUrls) return { status: 'ready', msg: error.msg, resultUrls };
      if (/^4k is processing/i.test(error.msg))
        return { status: 'processing', msg: error.msg, resultUrls: null };
      throw error;
    }
  }

  /** POST /veo/extend: a new task continuing a finished one; wait for it like any task. */
  extend(request: ExtendRequestInput): Promise<{ taskId: string }> {
    return this.call('POST', '/api/v1/veo/extend', { body: request });
  }

  /** Polls record-info until the task ends (successFlag ≠ 0) and returns its record, failed or not. */
  waitForTask(taskId: string, options: WaitOptions = {}): Promise<TaskRecord> {
    return this.poll(taskId, options, async () => {
      const record = await this.recordInfo(taskId);
      return record.successFlag !== 0 ? { done: true, value: record } : { done: false, state: record.state };
    });
  }

  /** Asks for the 1080p rendition until it is ready; returns its URL. */
  waitFor1080p(taskId: string, options: WaitOptions & { index?: number } = {}): Promise<string> {
    return this.poll(taskId, options, async () => {
      const result = await this.get1080p(taskId, options.index ?? 0);
      return result.ready ? { done: true, value: result.resultUrl } : { done: false, state: 'processing' };
    });
  }

  /** Polls record-info until the 4K rendition (started with get4k) is ready or failed, and returns it. */
  waitFor4k(taskId: string, options: WaitOptions & { index?: number } = {}): Promise<RenditionInfo> {
    return this.poll(taskId, options, async () => {
      const rendition = renditionOf(await this.recordInfo(taskId), '4k', options.index ?? 0);
      if (rendition && rendition.status !== 'processing') return { done: true, value: rendition };
      return { done: false, state: rendition?.status ?? 'starting' };
    });
  }

  /**
   * Streams a result URL to a file (its folder is created) and returns the path and size. The URLs are
   * presigned, so no API key is sent. The file appears only once complete.
   */
  async download(
    url: string,
    path: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ path: string; bytes: number }> {
    const target = resolve(path);
    const response = await this.fetch(url, { signal: options.signal });
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new VeoDownloadError(response.status);
    }
    await mkdir(dirname(target), { recursive: true });
    const partial = `${target}.part`;
    try {
      await pipeline(
        Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
        createWriteStream(partial),
      );
      await rename(partial, target);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    return { path: target, bytes: (await stat(target)).size };
  }

  private async poll<T>(taskId: string, options: WaitOptions, step: () => Promise<PollStep<T>>): Promise<T> {
    const { intervalMs = DEFAULT_INTERVAL_MS, timeoutMs = DEFAULT_TIMEOUT_MS, onProgress, signal } = options;
    const started = performance.now();
    let state = 'waiting';
    for (;;) {
      signal?.throwIfAborted();
      let error: Error | undefined;
      try {
        const result = await step();
        if (result.done) {
          onProgress?.({ taskId, elapsedMs: performance.now() - started, state: doneState(result.value) });
          return result.value;
        }
        state = result.state;
      } catch (caught) {
        if (!isTransient(caught, signal)) throw caught;
        error = caught as Error;
      }
      const elapsedMs = performance.now() - started;
      onProgress?.({ taskId, elapsedMs, state, ...(error ? { error } : {}) });
      if (elapsedMs >= timeoutMs) throw new VeoWaitTimeoutError(taskId, elapsedMs, state);
      await sleep(Math.min(intervalMs, timeoutMs - elapsedMs), undefined, { signal });
    }
  }

  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    options: { query?: Record<string, string>; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<T> {
    const query = options.query ? `?${new URLSearchParams(options.query)}` : '';
    const headers: Record<string, string> = {
      ...options.headers,
      authorization: `Bearer ${this.apiKey}`,
      accept: 'application/json',
    };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await this.fetch(`${this.baseUrl}${path}${query}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(this.requestTimeoutMs),
    });
    const text = await response.text();
    const envelope = parseEnvelope(text);
    if (!envelope) {
      const snippet = text.trim().slice(0, 200);
      throw new VeoApiError(
        response.status,
        `HTTP ${response.status}: the answer is not a {code,msg,data} envelope${snippet ? `: ${snippet}` : ''}`,
      );
    }
    // kie.ai sometimes answers HTTP 200 with an error code in the body: the body's code decides.
    if (envelope.code !== 200 || !response.ok) {
      throw new VeoApiError(
        envelope.code === 200 ? response.status : envelope.code,
        envelope.msg,
        envelope.data,
      );
    }
    return envelope.data as T;
  }
}

/** The URL of a finished task's video: the stitched one for an extended task, else the generated one. */
export function videoUrl(record: TaskRecord, index = 0): string | undefined {
  const full: unknown = record.response?.fullResultUrls;
  const stitched = Array.isArray(full) ? full[index] : undefined;
  return typeof stitched === 'string' ? stitched : record.response?.resultUrls[index];
}

/** The record's entry for one rendition, if it was asked for. */
export function renditionOf(record: TaskRecord, resolution: string, index = 0): RenditionInfo | undefined {
  return record.renditions?.find(
    (r) => r.resolution.toLowerCase() === resolution.toLowerCase() && r.index === index,
  );
}

function parseEnvelope(text: string): Envelope<unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (
      value !== null &&
      typeof value === 'object' &&
      'code' in value &&
      typeof value.code === 'number' &&
      'msg' in value
    ) {
      return { code: value.code, msg: String(value.msg), data: 'data' in value ? value.data : null };
    }
  } catch {
    // not JSON: reported by the caller with the status
  }
  return undefined;
}

/** `resultUrls` of a 4K answer, at the top of `data` or under `data.info` as in kie's callbacks. */
function urlsIn(data: unknown): string[] | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  const info = 'info' in data ? data.info : undefined;
  for (const holder of [data, info]) {
    if (holder !== null && typeof holder === 'object' && 'resultUrls' in holder) {
      const urls = holder.resultUrls;
      if (Array.isArray(urls) && urls.length > 0 && urls.every((u) => typeof u === 'string')) return urls;
    }
  }
  return undefined;
}

function doneState(value: unknown): string {
  if (value !== null && typeof value === 'object') {
    if ('state' in value && typeof value.state === 'string') return value.state;
    if ('status' in value && typeof value.status === 'string') return value.status;
  }
  return 'ready';
}

function isTransient(error: unknown, signal: AbortSignal | undefined): boolean {
  if (signal?.aborted) return false;
  if (error instanceof VeoApiError) return TRANSIENT_CODES.has(error.code);
  // fetch's network failures are TypeErrors; a request that ran past its time limit is a TimeoutError.
  return error instanceof TypeError || (error instanceof Error && error.name === 'TimeoutError');
}
