import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { InsufficientCreditsError } from '../../functions/core/errors';
import type { TaskEvent } from '../../functions/core/events';
import type { GenerateMessage, NotifyMessage, PollMessage } from '../../functions/core/messages';
import type {
  ApiKey,
  ApiKeyAdmin,
  CallbackDelivery,
  CallbackSender,
  DeadLetter,
  DeadLetterQueues,
  EventPublisher,
  ImageCropper,
  ImageFetcher,
  Log,
  Metrics,
  OperationStatus,
  SourceImage,
  TaskQueues,
  TaskTokens,
  Translation,
  Translator,
  UpstreamRequest,
  VideoDownload,
  VideoProvider,
  VideoStore,
  VideoUpscaler,
  VideoWatermarker,
} from '../../functions/core/ports';
import type { ConcreteAspectRatio } from '../../functions/core/schema';

/**
 * In-memory adapters of the core's ports, for unit tests only: each `implements` its port, so a test
 * hands them to a use case as they are (no casts), and each records what it was asked to do.
 */

/** The API keys table; InMemoryTaskStore moves credits on it. */
export class InMemoryApiKeyStore implements ApiKeyAdmin {
  readonly keys = new Map<string, ApiKey>();

  async get(keyHash: string): Promise<ApiKey | undefined> {
    const key = this.keys.get(keyHash);
    return key && structuredClone(key);
  }

  async put(key: ApiKey): Promise<void> {
    this.keys.set(key.keyHash, structuredClone(key));
  }

  async list(): Promise<ApiKey[]> {
    return [...this.keys.values()].map((key) => structuredClone(key));
  }

  async addCredits(keyHash: string, delta: number): Promise<number | undefined> {
    const key = this.keys.get(keyHash);
    if (!key) return undefined;
    if (key.credits + delta < 0) throw new InsufficientCreditsError(key.credits);
    key.credits += delta;
    return key.credits;
  }

  async revoke(keyHash: string, at: number): Promise<boolean> {
    const key = this.keys.get(keyHash);
    if (!key) return false;
    key.revoked = true;
    key.revokedAt ??= at;
    return true;
  }

  async setWebhookSecret(keyHash: string, secret: string): Promise<boolean> {
    const key = this.keys.get(keyHash);
    if (!key) return false;
    key.webhookSecret = secret;
    return true;
  }
}

/** The queues: every message sent, in order, with its delay. */
export class RecordingTaskQueues implements TaskQueues {
  readonly generated: { message: GenerateMessage; delaySeconds?: number }[] = [];
  /** Sent to the reserved queue: a task holding a slot of the upstream's quota. */
  readonly reservations: { message: GenerateMessage; delaySeconds: number }[] = [];
  readonly polled: { message: PollMessage; delaySeconds: number }[] = [];
  readonly notified: { message: NotifyMessage; delaySeconds?: number }[] = [];
  /** Set to make the next sends fail, as an unreachable SQS would. */
  failing?: Error;

  async generate(message: GenerateMessage, delaySeconds?: number): Promise<void> {
    if (this.failing) throw this.failing;
    this.generated.push({ message, delaySeconds });
  }

  async reserved(message: GenerateMessage, delaySeconds: number): Promise<void> {
    if (this.failing) throw this.failing;
    this.reservations.push({ message, delaySeconds });
  }

  async poll(message: PollMessage, delaySeconds: number): Promise<void> {
    if (this.failing) throw this.failing;
    this.polled.push({ message, delaySeconds });
  }

  async notify(message: NotifyMessage, delaySeconds?: number): Promise<void> {
    if (this.failing) throw this.failing;
    this.notified.push({ message, delaySeconds });
  }
}

/** The dead-letter queues: parked messages (`park` them), and the ones removed. */
export class InMemoryDeadLetterQueues implements DeadLetterQueues {
  readonly parked: DeadLetter[] = [];
  readonly removed: DeadLetter[] = [];

  park(queue: DeadLetter['queue'], message: object): void {
    this.parked.push({ queue, body: JSON.stringify(message), receipt: `r${this.parked.length + 1}` });
  }

  async receive(max: number): Promise<DeadLetter[]> {
    return this.parked.slice(0, max);
  }

  async remove(letter: DeadLetter): Promise<void> {
    const at = this.parked.findIndex((l) => l.receipt === letter.receipt);
    if (at >= 0) this.removed.push(...this.parked.splice(at, 1));
  }
}

/** The video bucket as a map of keys to bytes; URLs name the key, so a test sees what was signed. */
export class InMemoryVideoStore implements VideoStore {
  readonly objects = new Map<string, { bytes: Buffer; contentType: string }>();

  async put(key: string, body: Readable, contentType: string): Promise<void> {
    this.objects.set(key, { bytes: await buffer(body), contentType });
  }

  async open(key: string): Promise<Readable> {
    const object = this.objects.get(key);
    if (!object) throw new Error(`no object ${key}`);
    return Readable.from([object.bytes]);
  }

  async url(key: string): Promise<string> {
    return `https://videos.example.com/${key}?signed`;
  }
}

/** A callback receiver answering from a script (an HTTP status, or an error to throw); 200 once it runs out. */
export class RecordingCallbackSender implements CallbackSender {
  readonly sent: CallbackDelivery[] = [];

  constructor(readonly answers: (number | Error)[] = []) {}

  async send(delivery: CallbackDelivery): Promise<number> {
    this.sent.push(delivery);
    const answer = this.answers.shift() ?? 200;
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

/** The events published, in order; `failing` makes the next publications throw (EventBridge refusing). */
export class RecordingEventPublisher implements EventPublisher {
  readonly published: TaskEvent[] = [];
  failing = 0;

  /** How many events each publish carried: one request each. */
  readonly batches: number[] = [];

  async publish(...events: TaskEvent[]): Promise<void> {
    if (this.failing > 0) {
      this.failing -= 1;
      throw new Error('PutEvents refused the event: ThrottlingException');
    }
    this.published.push(...events);
    this.batches.push(events.length);
  }
}

/** The Step Functions answers sent, in order. */
export class RecordingTaskTokens implements TaskTokens {
  readonly answers: ({ token: string; output: unknown } | { token: string; error: string; cause: string })[] =
    [];

  async succeed(token: string, output: unknown): Promise<void> {
    this.answers.push({ token, output });
  }

  async fail(token: string, error: string, cause: string): Promise<void> {
    this.answers.push({ token, error, cause });
  }
}

/** Keeps every line, so a test can assert on what was logged. */
export class RecordingLog implements Log {
  readonly lines: { level: 'info' | 'warn' | 'error'; message: string; extra: Record<string, unknown> }[] =
    [];

  info(message: string, ...extra: Record<string, unknown>[]): void {
    this.lines.push({ level: 'info', message, extra: Object.assign({}, ...extra) });
  }

  warn(message: string, ...extra: Record<string, unknown>[]): void {
    this.lines.push({ level: 'warn', message, extra: Object.assign({}, ...extra) });
  }

  error(message: string, ...extra: Record<string, unknown>[]): void {
    this.lines.push({ level: 'error', message, extra: Object.assign({}, ...extra) });
  }

  /** Keys appended are not kept: tests assert on messages and their own fields. */
  appendKeys(_keys: Record<string, unknown>): void {}

  /** The child writes into the same lines, so a test sees what a per-record logger logged. */
  createChild(): Log {
    return this;
  }
}

export class RecordingMetrics implements Metrics {
  readonly counts: { name: string; dimensions?: Record<string, string> }[] = [];
  readonly timings: { name: string; value: number }[] = [];

  count(name: string, dimensions?: Record<string, string>): void {
    this.counts.push({ name, dimensions });
  }

  milliseconds(name: string, value: number): void {
    this.timings.push({ name, value });
  }
}

/** An upstream answering polls from a script (pending once it runs out); downloads are the video's name. */
export class ScriptedProvider implements VideoProvider {
  readonly name = 'simulator';
  readonly submitted: UpstreamRequest[] = [];
  /** Whether submits that carry our push URL are pushed (a test turns it on). */
  pushes = false;
  /** A test's own credential fetch, when it needs one. */
  readyCredentials?: () => Promise<void>;

  constructor(readonly answers: OperationStatus[] = []) {}

  async submit(request: UpstreamRequest): Promise<string> {
    this.submitted.push(request);
    return `operations/${this.submitted.length}`;
  }

  async poll(): Promise<OperationStatus> {
    return this.answers.shift() ?? { state: 'pending' };
  }

  async download(video: string): Promise<VideoDownload> {
    return { body: Readable.from([Buffer.from(video)]), contentType: 'video/mp4' };
  }
}

/** Every URL is a 16×9 PNG of a few bytes. */
export class StaticImageFetcher implements ImageFetcher {
  readonly fetched: string[] = [];

  async fetch(url: string): Promise<SourceImage> {
    this.fetched.push(url);
    return { bytes: Buffer.from('png'), mimeType: 'image/png', width: 16, height: 9 };
  }
}

/** Reports the crop without touching the bytes. */
export class PassThroughCropper implements ImageCropper {
  async crop(image: SourceImage, aspectRatio: ConcreteAspectRatio): Promise<SourceImage> {
    const [w, h] = aspectRatio === '9:16' ? [9, 16] : [16, 9];
    return { ...image, width: w, height: h };
  }
}

export class IdentityTranslator implements Translator {
  async toEnglish(text: string): Promise<Translation> {
    return { text, sourceLanguage: 'en' };
  }
}

/** Appends the text to the video's bytes, so a test can see the stamp. */
export class AppendingWatermarker implements VideoWatermarker {
  async stamp(video: Readable, text: string): Promise<Readable> {
    return Readable.from([Buffer.concat([await buffer(video), Buffer.from(`|${text}`)])]);
  }
}

/** Appends the size to the video's bytes; `failing` makes it throw, as a broken ffmpeg would. */
export class AppendingUpscaler implements VideoUpscaler {
  failing?: Error;

  async upscale(video: Readable, width: number, height: number): Promise<Readable> {
    if (this.failing) throw this.failing;
    return Readable.from([Buffer.concat([await buffer(video), Buffer.from(`|${width}x${height}`)])]);
  }
}
