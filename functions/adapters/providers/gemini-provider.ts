import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { z } from 'zod';
import {
  type OperationStatus,
  type UpstreamRequest,
  UpstreamUnavailableError,
  type VideoDownload,
  type VideoProvider,
} from '../../core/ports';

export interface GeminiProviderOptions {
  /** `gemini` for Google's API, `simulator` for this project's simulator, which speaks the same wire format. */
  name: string;
  baseUrl: string;
  apiKey?: string;
  models: { veo3: string; veo3_fast: string };
  timeoutMs?: number;
}

const operationSchema = z.object({ name: z.string().min(1) });

const sampleListSchema = z.object({
  generatedSamples: z
    .array(z.object({ video: z.object({ uri: z.string().optional() }).optional() }))
    .optional(),
  raiMediaFilteredCount: z.number().optional(),
  raiMediaFilteredReasons: z.array(z.string()).optional(),
});

const operationStatusSchema = z.object({
  name: z.string().optional(),
  done: z.boolean().optional(),
  error: z.object({ code: z.number().optional(), message: z.string().optional() }).optional(),
  // The Gemini API nests the samples under generateVideoResponse; some relays put them directly under response.
  response: sampleListSchema.extend({ generateVideoResponse: sampleListSchema.optional() }).optional(),
});

/**
 * Veo through the Gemini API's long-running operations:
 * `POST /v1beta/models/{model}:predictLongRunning`, then `GET /v1beta/{operation name}` until `done`.
 */
export class GeminiProvider implements VideoProvider {
  readonly name: string;

  constructor(private readonly options: GeminiProviderOptions) {
    this.name = options.name;
  }

  async submit(request: UpstreamRequest): Promise<string> {
    const model = this.options.models[request.model];
    const body = {
      instances: [{ prompt: request.prompt }],
      parameters: {
        aspectRatio: request.aspectRatio,
        seed: request.seed,
        durationSeconds: 8,
        sampleCount: 1,
      },
    };
    const response = await this.call(`v1beta/models/${model}:predictLongRunning`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    return operationSchema.parse(await response.json()).name;
  }

  async poll(operation: string): Promise<OperationStatus> {
    const response = await this.call(`v1beta/${operation}`, { method: 'GET' });
    const status = operationStatusSchema.parse(await response.json());
    if (!status.done) return { state: 'pending' };
    if (status.error)
      return { state: 'failed', reason: status.error.message ?? `upstream error ${status.error.code}` };
    const samples = status.response?.generateVideoResponse ?? status.response;
    const videos = (samples?.generatedSamples ?? []).flatMap((s) => (s.video?.uri ? [s.video.uri] : []));
    if (videos.length > 0) return { state: 'done', videos };
    // A finished operation without a video is the content filter's doing.
    const reasons = samples?.raiMediaFilteredReasons?.join('; ');
    return { state: 'rejected', reason: reasons || 'the upstream returned no video' };
  }

  async download(video: string): Promise<VideoDownload> {
    const response = await this.fetch(video, { method: 'GET' });
    if (!response.body) throw new UpstreamUnavailableError('video download returned no body');
    return {
      body: Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      contentType: response.headers.get('content-type') ?? 'video/mp4',
    };
  }

  private call(path: string, init: RequestInit): Promise<Response> {
    return this.fetch(new URL(path, withTrailingSlash(this.options.baseUrl)).toString(), init);
  }

  private async fetch(url: string, init: RequestInit): Promise<Response> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.options.apiKey) headers['x-goog-api-key'] = this.options.apiKey;
    let response: Response;
    try {
      response = await fetch(url, {
        ...init,
        headers,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      throw new UpstreamUnavailableError(`${this.name} unreachable: ${(error as Error).message}`);
    }
    if (response.ok) return response;
    const detail = (await response.text()).slice(0, 300);
    if (response.status === 429 || response.status >= 500) {
      throw new UpstreamUnavailableError(`${this.name} answered HTTP ${response.status}`);
    }
    throw new Error(`${this.name} answered HTTP ${response.status}: ${detail}`);
  }
}

function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}
