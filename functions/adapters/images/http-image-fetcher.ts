import type { Readable } from 'node:stream';
import { JPG } from 'image-size/types/jpg';
import { PNG } from 'image-size/types/png';
import { WEBP } from 'image-size/types/webp';
import { ImageRejectedError } from '../../core/errors';
import type { ImageFetcher, ImageMimeType, SourceImage } from '../../core/ports';
import type { UrlPolicy } from '../../core/url-guard';
import {
  guardedRequest,
  RequestTimeoutError,
  type ResolveHost,
  ResponseTooLargeError,
  UrlRefusedError,
} from '../http/guarded-request';
import { checkPixels, DEFAULT_IMAGE_MAX_PIXELS } from './pixel-limit';

export const DEFAULT_IMAGE_MAX_BYTES = 20 * 1024 * 1024;
export const DEFAULT_IMAGE_TIMEOUT_MS = 15_000;
/** Past this many bytes without readable dimensions the header check waits for the whole body. */
const HEADER_PROBE_BYTES = 256 * 1024;

export interface HttpImageFetcherOptions {
  policy: UrlPolicy;
  maxBytes?: number;
  timeoutMs?: number;
  /** Refused from the header, before the rest is downloaded. @default DEFAULT_IMAGE_MAX_PIXELS */
  maxPixels?: number;
  /** Replaces the system resolver (tests). */
  lookup?: ResolveHost;
}

const NOT_AN_IMAGE = 'is not a PNG, JPEG or WebP image';

/**
 * Fetches a client's input image through the URL guard. The type is sniffed from the bytes, not
 * taken from Content-Type, and the dimensions are read from the image's header. Every problem is an
 * ImageRejectedError worded to follow the field name, e.g. "imageUrls[0] is larger than 20 MB".
 * Fetches started together (a task's images) share one deadline: each ends `timeoutMs` after the start.
 */
export class HttpImageFetcher implements ImageFetcher {
  private readonly maxBytes: number;
  private readonly timeoutMs: number;
  private readonly maxPixels: number;

  constructor(private readonly options: HttpImageFetcherOptions) {
    this.maxBytes = options.maxBytes ?? DEFAULT_IMAGE_MAX_BYTES;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_IMAGE_TIMEOUT_MS;
    this.maxPixels = options.maxPixels ?? DEFAULT_IMAGE_MAX_PIXELS;
  }

  async fetch(url: string, signal?: AbortSignal): Promise<SourceImage> {
    let bytes: Buffer;
    try {
      const response = await guardedRequest(url, {
        method: 'GET',
        headers: { accept: 'image/png, image/jpeg, image/webp', 'user-agent': 'veo-serverless' },
        timeoutMs: this.timeoutMs,
        maxResponseBytes: this.maxBytes,
        policy: this.options.policy,
        lookup: this.options.lookup,
        subject: 'image URL',
        signal,
      });
      if (response.status < 200 || response.status > 299) {
        response.body.destroy();
        throw new ImageRejectedError(
          response.status >= 300 && response.status < 400
            ? `redirects (HTTP ${response.status}); give the final URL, redirects are not followed`
            : `could not be fetched: HTTP ${response.status}`,
        );
      }
      bytes = await readImage(response.body, this.maxPixels);
    } catch (error) {
      throw this.rejection(error);
    }
    const image = describe(bytes);
    checkPixels(image.mimeType, image.width, image.height, this.maxPixels);
    return image;
  }

  private rejection(error: unknown): unknown {
    if (error instanceof ImageRejectedError) return error;
    if (error instanceof UrlRefusedError) return new ImageRejectedError(error.reason);
    if (error instanceof ResponseTooLargeError)
      return new ImageRejectedError(`is larger than ${size(this.maxBytes)}`);
    if (error instanceof RequestTimeoutError) {
      return new ImageRejectedError(`could not be fetched: timed out after ${seconds(this.timeoutMs)}`);
    }
    // System and TLS errors (ENOTFOUND, ECONNREFUSED, ECONNRESET, CERT_HAS_EXPIRED, ...) carry a code;
    // their messages can name internal addresses, so only the code is passed on.
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (typeof code === 'string')
      return new ImageRejectedError(`could not be fetched: ${networkProblems[code] ?? code}`);
    return error;
  }
}

/**
 * Reads the body, giving up as soon as its first bytes show it is not an image we take, or as soon
 * as its header declares more pixels than we decode (without downloading the rest).
 */
async function readImage(body: Readable, maxPixels: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  let mimeType: ImageMimeType | undefined;
  let sized = false;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      length += chunk.length;
      if (!mimeType && length >= SNIFF_BYTES) {
        mimeType = sniff(Buffer.concat(chunks));
        if (!mimeType) throw new ImageRejectedError(NOT_AN_IMAGE);
      }
      if (mimeType && !sized && length - chunk.length < HEADER_PROBE_BYTES) {
        const dimensions = readDimensions(mimeType, Buffer.concat(chunks, length));
        if (dimensions) {
          sized = true;
          checkPixels(mimeType, dimensions.width, dimensions.height, maxPixels);
        }
      }
    }
  } catch (error) {
    body.destroy();
    throw error;
  }
  return Buffer.concat(chunks, length);
}

const networkProblems: Record<string, string> = {
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

const SNIFF_BYTES = 12;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function sniff(bytes: Buffer): ImageMimeType | undefined {
  if (bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return 'image/png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') {
    return 'image/webp';
  }
  return undefined;
}

const readers = { 'image/png': PNG, 'image/jpeg': JPG, 'image/webp': WEBP } as const;
const names = { 'image/png': 'PNG', 'image/jpeg': 'JPEG', 'image/webp': 'WebP' } as const;

/** The dimensions the header declares, or undefined while (or because) they cannot be read. */
function readDimensions(
  mimeType: ImageMimeType,
  bytes: Buffer,
): { width: number; height: number } | undefined {
  try {
    // image-size reads through DataViews over the input's whole ArrayBuffer, so a short Buffer cut from
    // Node's shared pool would let it read past the image; a plain, exactly-sized copy makes it throw.
    const exact = new Uint8Array(bytes);
    const reader = readers[mimeType];
    if (!reader.validate(exact)) return undefined;
    const { width, height } = reader.calculate(exact);
    return width > 0 && height > 0 ? { width, height } : undefined;
  } catch {
    return undefined;
  }
}

function describe(bytes: Buffer): SourceImage {
  const mimeType = sniff(bytes);
  if (!mimeType) throw new ImageRejectedError(NOT_AN_IMAGE);
  const dimensions = readDimensions(mimeType, bytes);
  if (!dimensions) {
    throw new ImageRejectedError(`is a damaged ${names[mimeType]} image: its size cannot be read`);
  }
  return { bytes, mimeType, ...dimensions };
}

function size(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return Number.isInteger(mb) ? `${mb} MB` : `${bytes} bytes`;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
