import { randomUUID } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Shape } from './http';
import { shippedVideos, type VideoSpec, videoFile, videoSpec } from './videos';

/**
 * What every shape shares: the fake long-running generations, their outcomes, latency, random faults,
 * injected faults and per-shape submit quotas, all driven by one seedable random source.
 */

export interface QuotaOption {
  limit: number;
  windowMs: number;
}

/** A Pub/Sub push subscription of a bucket's notifications, as the user would create it in their project. */
export interface StorageNotifications {
  /** The subscription's push endpoint. */
  endpoint: string;
  /** The service account its OIDC tokens are made for. */
  serviceAccountEmail: string;
  /** The tokens' audience; default the endpoint (as Pub/Sub's). */
  audience?: string;
}

export interface SimulatorOptions {
  port?: number;
  host?: string;
  /**
   * How long a generation takes: a fixed number of milliseconds or a range (default 3000). A range is drawn
   * uniformly, or log-uniformly (as many short generations as long ones per doubling of the time).
   */
  latencyMs?: number | LatencyRange;
  /** Share of generations that end with an upstream error (0–1, default 0). */
  failureRate?: number;
  /** Share of generations the content filter rejects (0–1, default 0). */
  rejectionRate?: number;
  /** Share of submits and polls answered with 429 (0–1, default 0). */
  rateLimitRate?: number;
  /** Share of submits and polls answered with 503 (0–1, default 0). */
  serverErrorRate?: number;
  /** Submit quota beyond which a shape answers 429: one for every shape, or per shape. Off by default. */
  quota?: QuotaOption | Partial<Record<Shape, QuotaOption>>;
  /** Seed of the random source, for deterministic tests; unset means Math.random. */
  seed?: number;
  /** Gemini shape: the API key required in `x-goog-api-key` (or `?key=`); unset means none required. */
  apiKey?: string;
  /**
   * Gemini shape: whether an extension may carry its video inline (`encodedVideo`, as the Gen AI SDK can
   * send); false accepts only the `uri` of a video the shape generated, the form Google's guide shows.
   * Default true.
   */
  geminiInlineVideo?: boolean;
  /**
   * Model ids the shapes answer as retired or unknown, as the upstream does: Google's 404 NOT_FOUND, kie's
   * 422 envelope. For tests of what happens when a configured model id is withdrawn (preview ids are).
   */
  retiredModels?: string[];
  /**
   * Vertex shape: the Pub/Sub push subscription of the bucket's notifications; each video written under a
   * submit's storageUri is pushed there when it ends (google-pushes.ts). Unset: nothing is pushed.
   */
  storageNotifications?: StorageNotifications;
  /** Vertex shape: when set, the token endpoint verifies assertions against this service account. */
  vertexServiceAccount?: { clientEmail: string; publicKey: string };
  /** Lifetime of the access tokens the token endpoint issues (default 3599 s, as Google's). */
  tokenTtlSeconds?: number;
  /** kie shape: the Bearer key required; unset means none required. */
  kieApiKey?: string;
  /** kie shape: the webhook HMAC key that signs callbacks; unset means unsigned callbacks. */
  kieWebhookSecret?: string;
  /** kie shape: `http` (default) answers errors with HTTP status = envelope code; `envelope` always with 200. */
  kieErrorStatus?: 'http' | 'envelope';
  /** kie shape: delay before the first callback retry; later ones double (default 1000 ms, 3 retries). */
  kieCallbackRetryMs?: number;
  /** How many received requests `simulator.requests` keeps (default 200). */
  maxRecordedRequests?: number;
  /**
   * Serve every generated video as an MP4 of exactly this many bytes, made on the fly as a stream (an
   * `ftyp` box, then one `free` box of zeros), instead of the small sample; for the memory benchmark.
   */
  videoBytes?: number;
}

export interface LatencyRange {
  min: number;
  max: number;
  /** Default `uniform`. */
  distribution?: 'uniform' | 'log-uniform';
}

export type Outcome = 'succeeded' | 'rejected' | 'failed';
export type SampleAspectRatio = '16:9' | '9:16';

export interface Generation {
  id: string;
  shape: Shape;
  model: string;
  prompt: string;
  aspectRatio: SampleAspectRatio;
  /** The video it makes: frame size, length and sound, as asked (each shape's defaults: 720p, 8 s, sound). */
  video: VideoSpec;
  /** How many videos it makes (Vertex's sampleCount). */
  samples: number;
  createdAt: number;
  doneAt: number;
  outcome: Outcome;
  /** Shape-specific details (the kie request, the Vertex storageUri...). */
  details: Record<string, unknown>;
  /** Status requests (polls) that reached this generation. */
  polls: number;
  /** When a poll first answered that the generation was done. */
  firstDonePollAt?: number;
}

export interface InjectedFault {
  status: 429 | 500 | 503;
  /** How many matching requests it answers (default 1). */
  count?: number;
  shape?: Shape;
  kind?: 'submit' | 'poll';
}

export type Refusal = { status: 429 | 500 | 503; reason: 'quota' | 'rate-limit' | 'server-error' };

/** The shipped 720p 8-second videos, the default of each ratio. */
export const sampleFiles: Record<SampleAspectRatio, string> = shippedVideos;

/** The bytes of the generation's video (made or read from the cache). */
export async function sampleBytes(generation: Generation): Promise<Buffer> {
  return readFile(await videoFile(generation.video));
}

export function sampleAspectRatio(value: unknown): SampleAspectRatio {
  return value === '9:16' ? '9:16' : '16:9';
}

/** mulberry32: small, fast and good enough to make fault injection reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Generations {
  readonly random: () => number;
  private readonly byId = new Map<string, Generation>();
  private readonly faults: (InjectedFault & { remaining: number })[] = [];
  private readonly submitTimes = new Map<Shape, number[]>();

  constructor(private readonly options: SimulatorOptions) {
    this.random = options.seed === undefined ? Math.random : seededRandom(options.seed);
  }

  create(
    shape: Shape,
    fields: { model: string; prompt: string; aspectRatio: unknown; video?: VideoSpec; samples?: number },
    details: Record<string, unknown> = {},
    id: string = randomUUID(),
  ): Generation {
    const now = Date.now();
    const aspectRatio = sampleAspectRatio(fields.aspectRatio);
    const generation: Generation = {
      id,
      shape,
      model: fields.model,
      prompt: fields.prompt,
      aspectRatio,
      video: fields.video ?? videoSpec(aspectRatio),
      samples: fields.samples ?? 1,
      createdAt: now,
      doneAt: now + this.latency(),
      outcome: this.outcome(fields.prompt),
      details,
      polls: 0,
    };
    this.byId.set(generation.id, generation);
    // Start making the video now, so it is ready by the time the generation is done.
    if (generation.outcome === 'succeeded' && this.options.videoBytes === undefined)
      videoFile(generation.video).catch(() => undefined);
    return generation;
  }

  get(id: string, shape: Shape): Generation | undefined {
    const generation = this.byId.get(id);
    return generation?.shape === shape ? generation : undefined;
  }

  isDone(generation: Generation): boolean {
    return Date.now() >= generation.doneAt;
  }

  /** A status request for this generation: counted, and the first one that sees it done is noted. */
  polled(generation: Generation): boolean {
    generation.polls += 1;
    const done = this.isDone(generation);
    if (done) generation.firstDonePollAt ??= Date.now();
    return done;
  }

  /** Every generation so far, oldest first. */
  all(): Generation[] {
    return [...this.byId.values()];
  }

  inject(fault: InjectedFault): void {
    this.faults.push({ ...fault, remaining: fault.count ?? 1 });
  }

  /**
   * Whether this submit or poll is refused before it is looked at: an injected fault first, then the
   * random 429s and 5xx, then (submits only) the shape's quota. A refused request does not count.
   */
  refusal(shape: Shape, kind: 'submit' | 'poll'): Refusal | undefined {
    const refusal = this.pickRefusal(shape, kind);
    if (refusal) this.refused[refusal.reason] += 1;
    return refusal;
  }

  readonly refused: Record<Refusal['reason'], number> = { quota: 0, 'rate-limit': 0, 'server-error': 0 };

  private pickRefusal(shape: Shape, kind: 'submit' | 'poll'): Refusal | undefined {
    const index = this.faults.findIndex(
      (f) => (!f.shape || f.shape === shape) && (!f.kind || f.kind === kind),
    );
    const fault = this.faults[index];
    if (fault) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) this.faults.splice(index, 1);
      return { status: fault.status, reason: fault.status === 429 ? 'rate-limit' : 'server-error' };
    }
    if (this.chance(this.options.rateLimitRate)) return { status: 429, reason: 'rate-limit' };
    if (this.chance(this.options.serverErrorRate)) return { status: 503, reason: 'server-error' };
    if (kind === 'submit' && !this.takeQuota(shape)) return { status: 429, reason: 'quota' };
    return undefined;
  }

  private takeQuota(shape: Shape): boolean {
    const quota = quotaFor(this.options.quota, shape);
    if (!quota) return true;
    const now = Date.now();
    const recent = (this.submitTimes.get(shape) ?? []).filter((t) => t > now - quota.windowMs);
    if (recent.length >= quota.limit) {
      this.submitTimes.set(shape, recent);
      return false;
    }
    recent.push(now);
    this.submitTimes.set(shape, recent);
    return true;
  }

  private outcome(prompt: string): Outcome {
    if (prompt.includes('[fail]')) return 'failed';
    if (prompt.includes('[reject]') || prompt.includes('[blocked]')) return 'rejected';
    if (this.chance(this.options.failureRate)) return 'failed';
    if (this.chance(this.options.rejectionRate)) return 'rejected';
    return 'succeeded';
  }

  private latency(): number {
    return drawLatency(this.options.latencyMs ?? 3000, this.random);
  }

  private chance(rate: number | undefined): boolean {
    return rate !== undefined && rate > 0 && this.random() < rate;
  }
}

/** A generation time from the option: the number itself, or a draw from the range. */
export function drawLatency(latency: number | LatencyRange, random: () => number): number {
  if (typeof latency === 'number') return latency;
  const { min, max } = latency;
  if (!(min >= 0 && max >= min)) throw new Error(`latencyMs needs 0 <= min <= max, got ${min}..${max}`);
  if (latency.distribution === 'log-uniform' && min > 0) {
    return Math.round(Math.exp(Math.log(min) + random() * (Math.log(max) - Math.log(min))));
  }
  return Math.round(min + random() * (max - min));
}

function quotaFor(option: SimulatorOptions['quota'], shape: Shape): QuotaOption | undefined {
  if (!option) return undefined;
  if ('limit' in option && typeof option.limit === 'number') return option as QuotaOption;
  return (option as Partial<Record<Shape, QuotaOption>>)[shape];
}

export interface SimulatorStats {
  submits: number;
  polls: number;
  downloads: number;
  tokens: number;
  callbacks: number;
  /** Submits and polls refused with 429 or 5xx, by reason (injected faults, random faults, quota). */
  refused: Record<Refusal['reason'], number>;
}

/** A callback the simulator POSTed (kie's push), one entry per attempt. */
export interface CallbackAttemptRecord {
  at: number;
  url: string;
  taskId: string;
  attempt: number;
  body: unknown;
  status?: number;
  error?: string;
}

/** What the server hands every shape module. */
export interface ShapeContext {
  options: SimulatorOptions;
  generations: Generations;
  stats: SimulatorStats;
  callbacks: CallbackAttemptRecord[];
  baseUrl(): string;
  /** A timer the server clears on stop. */
  schedule(run: () => void, delayMs: number): void;
  /** Whether the simulator was taken down (Simulator.down()). */
  isDown(): boolean;
}

/** How long a push's POST may take before it counts as failed (and is tried again). */
const PUSH_TIMEOUT_MS = 15_000;

/**
 * One attempt at a push (kie's callback, a Google push): POSTs `body` as JSON with `headers` to `url`,
 * recorded in `ctx.callbacks` with its status or error. Whether it was answered 2xx (else: try again).
 */
export async function postPush(
  ctx: ShapeContext,
  push: Pick<CallbackAttemptRecord, 'url' | 'taskId' | 'attempt' | 'body'> & {
    headers: Record<string, string>;
  },
): Promise<boolean> {
  const { headers, ...recorded } = push;
  const entry: CallbackAttemptRecord = { at: Date.now(), ...recorded };
  ctx.callbacks.push(entry);
  ctx.stats.callbacks++;
  try {
    const response = await fetch(push.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(push.body),
      signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
    });
    await response.arrayBuffer();
    entry.status = response.status;
    return response.ok;
  } catch (error) {
    entry.error = (error as Error).message;
    return false;
  }
}

/** Streams the generation's MP4 (its size, length and sound), or a padded one of `videoBytes` when set. */
export async function sendSample(
  res: ServerResponse,
  generation: Generation,
  videoBytes?: number,
  spec: VideoSpec = generation.video,
): Promise<void> {
  if (videoBytes !== undefined) {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': videoBytes });
    paddedMp4Stream(videoBytes).pipe(res);
    return;
  }
  const file = await videoFile(spec);
  res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': statSync(file).size });
  createReadStream(file).pipe(res);
}

const zeros = Buffer.alloc(1024 * 1024);

/**
 * An MP4 container of exactly `bytes` bytes, produced chunk by chunk (never held whole): an `ftyp` box,
 * then one `free` box filling the rest with zeros. A valid container, not a playable video.
 */
export function paddedMp4Stream(bytes: number): Readable {
  // major brand isom, minor version 512, compatible brands isom, iso2, mp41 (as fixtures' mp4Bytes)
  const ftyp = Buffer.concat([
    Buffer.from([0, 0, 0, 28]),
    Buffer.from('ftypisom', 'latin1'),
    Buffer.from([0, 0, 2, 0]),
    Buffer.from('isomiso2mp41', 'latin1'),
  ]);
  if (!Number.isInteger(bytes) || bytes < ftyp.length + 8 || bytes > 0xffffffff) {
    throw new Error(`videoBytes must be an integer from ${ftyp.length + 8} to 4 GiB, got ${bytes}`);
  }
  const freeHeader = Buffer.alloc(8);
  freeHeader.writeUInt32BE(bytes - ftyp.length);
  freeHeader.write('free', 4, 'latin1');
  let left = bytes - ftyp.length - 8;
  let headerSent = false;
  return new Readable({
    read() {
      if (!headerSent) {
        headerSent = true;
        this.push(Buffer.concat([ftyp, freeHeader]));
        return;
      }
      if (left === 0) {
        this.push(null);
        return;
      }
      const size = Math.min(left, zeros.length);
      left -= size;
      this.push(zeros.subarray(0, size));
    },
  });
}
