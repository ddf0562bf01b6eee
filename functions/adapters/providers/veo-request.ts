import type { OperationStatus, SourceImage, SourceVideo, UpstreamRequest } from '../../core/ports';

/**
 * The Veo request both Google APIs share (SPEC §4): prompt → instances[0].prompt; for first/last-frame
 * generation the first image → instances[0].image and the second → instances[0].lastFrame; for
 * REFERENCE_2_VIDEO every image → instances[0].referenceImages[{ image, referenceType: "asset" }].
 * Images travel inline as { bytesBase64Encoded, mimeType } on both APIs.
 *
 * An extension (request.extend) is the prompt and the video to continue in instances[0].video, with no
 * images. The two APIs name the video's fields differently (the Gen AI SDK's videoToVertex and
 * videoToMldev): Vertex AI takes { bytesBase64Encoded | gcsUri, mimeType }, the Gemini API
 * { encodedVideo | uri, encoding }; each provider builds its own.
 */

export type VeoResolution = '720p' | '1080p';

/** Our model names, each mapped to an upstream model id per provider. */
export type VeoModel = 'veo3' | 'veo3_fast' | 'veo3_lite';

export interface VeoImage {
  bytesBase64Encoded: string;
  mimeType: string;
}

/** Vertex AI's video input. */
export interface VertexVideo {
  bytesBase64Encoded: string;
  mimeType: string;
}

/** The Gemini API's video input: inline bytes, or the URI of a video Veo generated there. */
export type GeminiVideo = { encodedVideo: string; encoding: string } | { uri: string };

export interface VeoInstance {
  prompt: string;
  image?: VeoImage;
  lastFrame?: VeoImage;
  referenceImages?: { image: VeoImage; referenceType: 'asset' }[];
  video?: VertexVideo | GeminiVideo;
}

/** Veo extends a video to 720p only (the Gemini API's parameter notes; Vertex AI's extension samples). */
export const EXTENSION_RESOLUTION = '720p';

export function veoImage(image: SourceImage): VeoImage {
  return { bytesBase64Encoded: image.bytes.toString('base64'), mimeType: image.mimeType };
}

export function vertexVideo(video: SourceVideo): VertexVideo {
  return { bytesBase64Encoded: video.bytes.toString('base64'), mimeType: video.mimeType };
}

export function geminiInlineVideo(video: SourceVideo): GeminiVideo {
  return { encodedVideo: video.bytes.toString('base64'), encoding: video.mimeType };
}

/**
 * instances[0] of the request. For an extension `video` is the source video in the API's own shape;
 * the generation type is not looked at (an extension continues a video, it takes no images).
 */
export function veoInstance(request: UpstreamRequest, video?: VeoInstance['video']): VeoInstance {
  const { images, generationType } = request;
  const instance: VeoInstance = { prompt: request.prompt };
  if (request.extend) {
    if (!video) throw new Error('an extension needs the source video');
    if (images.length > 0) throw new Error('an extension takes no images');
    instance.video = video;
    return instance;
  }
  if (generationType === 'TEXT_2_VIDEO') {
    if (images.length > 0) throw new Error('TEXT_2_VIDEO takes no images');
    return instance;
  }
  if (images.length === 0) throw new Error(`${generationType} needs the fetched images`);
  if (generationType === 'REFERENCE_2_VIDEO') {
    if (images.length > 3) throw new Error('REFERENCE_2_VIDEO takes at most 3 images');
    instance.referenceImages = images.map((image) => ({ image: veoImage(image), referenceType: 'asset' }));
    return instance;
  }
  const [first, last, ...rest] = images;
  if (rest.length > 0) throw new Error('FIRST_AND_LAST_FRAMES_2_VIDEO takes at most 2 images');
  if (first) instance.image = veoImage(first);
  if (last) instance.lastFrame = veoImage(last);
  return instance;
}

/** What an operation that is `done` without a video means: the content filter's verdict. */
export function filteredStatus(
  reasons: string[] | undefined,
  filteredCount: number | undefined,
): OperationStatus {
  const reason = reasons?.filter(Boolean).join('; ');
  if (reason) return { state: 'rejected', reason };
  return {
    state: 'rejected',
    reason: filteredCount
      ? `${filteredCount} video(s) removed by the content filter`
      : 'the upstream returned no video',
  };
}

/**
 * A failed Google operation: INVALID_ARGUMENT (3) is how Vertex reports safety blocks ("violate ...
 * Responsible AI practices ... Support codes"); the rest are upstream failures.
 */
export function operationError(error: { code?: number; message?: string }): OperationStatus {
  const reason = error.message ?? `upstream error ${error.code ?? 'unknown'}`;
  if (error.code === 3 || /usage guidelines|responsible ai|violat|support codes?:/i.test(reason)) {
    return { state: 'rejected', reason };
  }
  return { state: 'failed', reason };
}
