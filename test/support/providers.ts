import type { OperationStatus, SourceImage, SourceVideo, VideoProvider } from '../../functions/core/ports';
import { mp4Bytes, pngBytes } from '../../simulator/fixtures';
import type { RecordedRequest, RouteKind, Shape } from '../../simulator/http';
import type { Simulator } from '../../simulator/server';

/** Test-only helpers the provider tests share (not a test file itself). */

/** The error a call failed with (the test fails if it succeeded). */
export async function failure(call: Promise<unknown>): Promise<Error> {
  try {
    await call;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

/** Polls the operation until it leaves `pending`. */
export async function settle(provider: VideoProvider, operation: string): Promise<OperationStatus> {
  for (;;) {
    const status = await provider.poll(operation);
    if (status.state !== 'pending') return status;
    await new Promise((r) => setTimeout(r, 40));
  }
}

/** The latest request of this kind the simulator recorded for the shape. */
export function lastRequest(simulator: Simulator, shape: Shape, kind: RouteKind): RecordedRequest {
  const found = simulator.requests.filter((r) => r.shape === shape && r.kind === kind).at(-1);
  if (!found) throw new Error(`no ${kind} recorded`);
  return found;
}

/** A one-colour PNG as the providers receive it from the image fetcher. */
export function pngImage(width: number, height: number, rgb: [number, number, number]): SourceImage {
  return { bytes: pngBytes(width, height, rgb), mimeType: 'image/png', width, height };
}

/** A source video for an extension, as the worker hands it over (a minimal MP4 carrying `label`). */
export function sourceVideo(label: string): SourceVideo {
  return { bytes: mp4Bytes(label), mimeType: 'video/mp4' };
}

/** The bytes a base64 field of a recorded request decodes to. */
export function decoded(base64: unknown): Buffer {
  if (typeof base64 !== 'string') throw new Error('not a base64 string');
  return Buffer.from(base64, 'base64');
}
