import type { Readable } from 'node:stream';
import type { ConcreteAspectRatio, GenerationType, Model } from '../schema';
import type { SourceImage } from './images';

/**
 * The provider port: what the worker and poller need from a Veo upstream (Vertex AI, the Gemini API,
 * kie.ai or the simulator), and the request they hand it.
 */

/** The video an extension continues: the stored result of the source task. */
export interface SourceVideo {
  bytes: Buffer;
  mimeType: 'video/mp4';
}

/** What the worker hands a provider: the accepted request, resolved. */
export interface UpstreamRequest {
  taskId: string;
  prompt: string;
  model: Model;
  generationType: GenerationType;
  aspectRatio: ConcreteAspectRatio;
  seed: number;
  /**
   * Veo 3.1 options (issue 15), checked against core/capabilities.ts before they get here. Unset: the
   * upstream's defaults (720p, 8 s, audio on, one video, no negative prompt, its person policy).
   */
  resolution?: '720p' | '1080p' | '4k';
  durationSeconds?: number;
  generateAudio?: boolean;
  negativePrompt?: string;
  personGeneration?: 'allow_all' | 'allow_adult' | 'dont_allow';
  sampleCount?: number;
  /** The images' original URLs (relays such as kie.ai fetch them themselves). */
  imageUrls: string[];
  /** The images fetched and, for Auto, cropped (Google's APIs take the bytes). */
  images: SourceImage[];
  /** Where a provider that pushes results (kie.ai, Gemini API webhooks) should push to (our upstream-callback route). */
  pushUrl?: string;
  /** Set for POST /veo/extend: continue this video (Veo video extension) instead of starting from text/images. */
  extend?: {
    video: SourceVideo;
    /** The source task's upstream operation reference (kie: its taskId). */
    sourceOperation?: string;
  };
}

export type OperationStatus =
  | { state: 'pending' }
  | { state: 'done'; videos: string[] }
  | { state: 'rejected'; reason: string }
  | { state: 'failed'; reason: string };

export interface VideoDownload {
  body: Readable;
  contentType: string;
}

/** The upstreams a deployment can use; `simulator` is the project's own, in the Gemini API's shape. */
export const providerNames = ['simulator', 'gemini', 'vertex', 'kie'] as const;
export type ProviderName = (typeof providerNames)[number];

/** A Veo upstream: Vertex AI, the Gemini API, kie.ai or the project's simulator. */
export interface VideoProvider {
  readonly name: string;
  /** Starts the generation and returns the upstream's operation reference. */
  submit(request: UpstreamRequest): Promise<string>;
  /**
   * Fetches what a submit needs besides its request (a key from its secret, an access token), so the
   * submit leaves at its quota slot: a first submit fetching them after the slot arrives later than our
   * window counts it. Failures are left for the submit to meet. Providers with nothing to fetch leave it out.
   */
  readyCredentials?(): Promise<void>;
  poll(operation: string): Promise<OperationStatus>;
  /**
   * Whether a submit that carries our push URL gets a push this provider verifies (kie.ai with its webhook
   * secret, the Gemini API with webhooks on, Vertex AI with its bucket's notifications pushed to that URL):
   * its tasks then await the push instead of polling.
   */
  readonly pushes?: boolean;
  download(video: string): Promise<VideoDownload>;
  /**
   * For upstreams that push results (kie.ai, the Gemini API's webhooks): whether a push is authentic.
   * `operation` is what the push names ('' when it names none; kie signs its taskId). Providers without
   * pushes leave it out or answer false, and every push is ignored.
   */
  verifyPush?(operation: string, headers: Record<string, string | undefined>): Promise<boolean>;
  /**
   * For a push that names its task in its body, not in our URL (Vertex AI's: the bucket's notification of
   * a video written into the task's folder): the task it names, or undefined when the body is not its.
   */
  pushedTask?(body: unknown): string | undefined;
}
