import type { ServerResponse } from 'node:http';
import { isObject, type SimRequest, sendJson } from './http';
import { mp4Info } from './mp4-info';
import type { Refusal } from './operations';
import { type SimResolution, type VideoSpec, videoSpec } from './videos';

/**
 * Pieces both Google shapes share: the google.rpc.Status error body, and the Veo instance and parameter
 * checks (the same `instances[0]` fields on Vertex AI and the Gemini API; see the report for sources).
 */

const statusNames: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

export function googleError(res: ServerResponse, code: number, message: string, details?: unknown[]): void {
  const error: Record<string, unknown> = { code, message, status: statusNames[code] ?? 'UNKNOWN' };
  if (details) error.details = details;
  sendJson(res, code, { error });
}

const exhausted = 'Resource has been exhausted (e.g. check quota).';

/**
 * Answers a submit or poll the simulator refuses (an injected or random fault, or the shape's quota) as
 * Google does, and says whether it did. `quotaMessage` is how the shape words an exhausted quota.
 */
export function refused(
  res: ServerResponse,
  refusal: Refusal | undefined,
  quotaMessage = exhausted,
): boolean {
  if (!refusal) return false;
  if (refusal.status === 429) {
    googleError(res, 429, refusal.reason === 'quota' ? quotaMessage : exhausted);
  } else if (refusal.status === 503) {
    googleError(res, 503, 'The service is currently unavailable.');
  } else {
    googleError(res, 500, 'Internal error encountered.');
  }
  return true;
}

/** The finished operation of a generation that failed upstream (google.rpc.Code INTERNAL). */
export function failedOperation(name: string) {
  return {
    name,
    done: true,
    error: { code: 13, message: 'Video generation failed due to an internal error.' },
  };
}

const imageMimeTypes = ['image/png', 'image/jpeg', 'image/webp'];

/** The first bytes of the formats Veo accepts, to catch bytes that are not the image they claim to be. */
function sniff(bytes: Buffer): string | undefined {
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    return 'image/png';
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (
    bytes.subarray(0, 4).toString('latin1') === 'RIFF' &&
    bytes.subarray(8, 12).toString('latin1') === 'WEBP'
  ) {
    return 'image/webp';
  }
  return undefined;
}

function checkImage(value: unknown, field: string, allowGcsUri: boolean): string | undefined {
  if (!isObject(value)) return `${field} must be an object`;
  const { bytesBase64Encoded, gcsUri, mimeType } = value;
  if (allowGcsUri && typeof gcsUri === 'string' && bytesBase64Encoded === undefined) {
    return gcsUri.startsWith('gs://') ? undefined : `${field}.gcsUri must be a gs:// URI`;
  }
  if (typeof bytesBase64Encoded !== 'string' || bytesBase64Encoded.length === 0) {
    return `${field}.bytesBase64Encoded is required`;
  }
  if (typeof mimeType !== 'string' || !imageMimeTypes.includes(mimeType)) {
    return `${field}.mimeType must be one of ${imageMimeTypes.join(', ')}`;
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(bytesBase64Encoded) || bytesBase64Encoded.length % 4 !== 0) {
    return `${field}.bytesBase64Encoded is not valid base64`;
  }
  if (sniff(Buffer.from(bytesBase64Encoded, 'base64')) !== mimeType) {
    return `Unable to process input image: ${field} is not a ${mimeType} image`;
  }
  return undefined;
}

/** The first bytes of an MP4: a box size, then the `ftyp` box type. */
export function isMp4(bytes: Buffer): boolean {
  return bytes.length >= 12 && bytes.subarray(4, 8).toString('latin1') === 'ftyp';
}

/** Which Google API a request came in through: they spell the video input differently. */
export type GoogleShape = 'vertex' | 'gemini';

/** The video to continue, as the request gave it. */
export type VeoVideoInput =
  | { kind: 'inline'; bytes: Buffer }
  | { kind: 'gcsUri'; gcsUri: string }
  | { kind: 'uri'; uri: string };

/**
 * Field names of instances[0].video, as the Gen AI SDK maps them: Vertex AI's videoToVertex
 * ({ bytesBase64Encoded | gcsUri, mimeType }) and the Gemini API's videoToMldev ({ encodedVideo | uri, encoding }).
 */
const videoFields = {
  vertex: { bytes: 'bytesBase64Encoded', reference: 'gcsUri', mimeType: 'mimeType' },
  gemini: { bytes: 'encodedVideo', reference: 'uri', mimeType: 'encoding' },
} as const;

function checkVideo(value: unknown, shape: GoogleShape): { problem: string } | VeoVideoInput {
  const field = 'instances[0].video';
  if (!isObject(value)) return { problem: `${field} must be an object` };
  const names = videoFields[shape];
  const unknown = Object.keys(value).find((key) => !Object.values(names).includes(key as never));
  if (unknown) {
    return {
      problem: `Invalid JSON payload received. Unknown name "${unknown}" at '${field}': Cannot find field.`,
    };
  }
  const bytes = value[names.bytes];
  const reference = value[names.reference];
  const mimeType = value[names.mimeType];
  if (bytes === undefined && typeof reference === 'string') {
    if (shape === 'vertex') {
      if (!reference.startsWith('gs://')) return { problem: `${field}.gcsUri must be a gs:// URI` };
      return { kind: 'gcsUri', gcsUri: reference };
    }
    return { kind: 'uri', uri: reference };
  }
  if (typeof bytes !== 'string' || bytes.length === 0)
    return { problem: `${field}.${names.bytes} is required` };
  if (mimeType !== 'video/mp4') return { problem: `${field}.${names.mimeType} must be video/mp4` };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(bytes) || bytes.length % 4 !== 0) {
    return { problem: `${field}.${names.bytes} is not valid base64` };
  }
  const decoded = Buffer.from(bytes, 'base64');
  if (!isMp4(decoded)) return { problem: `Unable to process input video: ${field} is not an MP4 video` };
  return { kind: 'inline', bytes: decoded };
}

export interface VeoInstanceFields {
  prompt: string;
  aspectRatio: unknown;
}

export interface VeoSubmit {
  fields: VeoInstanceFields;
  /** The request's `parameters`, for the checks and details of each shape. */
  parameters: Record<string, unknown>;
  /** The video it will make: frame size, length (an extension: the source's and 7 s), sound. */
  output: VideoSpec;
  /** How many videos (sampleCount). */
  samples: number;
  /** Set for a video extension: the video to continue. */
  video?: VeoVideoInput;
}

/**
 * A submit's body, checked as a Veo request: answers Google's INVALID_ARGUMENT itself and returns
 * undefined when it is not one.
 */
export function veoSubmit(
  req: SimRequest,
  res: ServerResponse,
  shape: GoogleShape,
  model: string,
): VeoSubmit | undefined {
  const checked = req.bodyError
    ? { problem: `Invalid JSON payload received. ${req.bodyError}` }
    : checkVeoRequest(req.body, shape, model);
  if ('problem' in checked) {
    googleError(res, 400, checked.problem);
    return undefined;
  }
  return checked;
}

/**
 * Checks `instances` and the parameters both APIs share. Returns the problem (worded like Google's
 * INVALID_ARGUMENT messages) or the fields the simulator needs with the parameters.
 */
function checkVeoRequest(body: unknown, shape: GoogleShape, model: string): { problem: string } | VeoSubmit {
  const allowGcsUri = shape === 'vertex';
  if (!isObject(body) || !Array.isArray(body.instances)) return { problem: 'instances is required' };
  if (body.instances.length !== 1) return { problem: 'instances must hold exactly one instance' };
  const instance: unknown = body.instances[0];
  if (!isObject(instance)) return { problem: 'instances[0] must be an object' };
  const { prompt, image, lastFrame, referenceImages } = instance;
  if (prompt !== undefined && typeof prompt !== 'string')
    return { problem: 'instances[0].prompt must be a string' };
  if (!prompt && image === undefined && instance.video === undefined)
    return { problem: 'instances[0].prompt is required' };
  let video: VeoVideoInput | undefined;
  if (instance.video !== undefined) {
    // An extension continues the video: no frames or references to start from.
    if (image !== undefined || lastFrame !== undefined || referenceImages !== undefined) {
      return { problem: 'instances[0].video cannot be combined with image, lastFrame or referenceImages' };
    }
    const checked = checkVideo(instance.video, shape);
    if ('problem' in checked) return checked;
    video = checked;
  }
  for (const [field, value] of [
    ['image', image],
    ['lastFrame', lastFrame],
  ] as const) {
    if (value === undefined) continue;
    const problem = checkImage(value, `instances[0].${field}`, allowGcsUri);
    if (problem) return { problem };
  }
  if (lastFrame !== undefined && image === undefined) {
    return { problem: 'instances[0].lastFrame requires instances[0].image' };
  }
  if (referenceImages !== undefined) {
    if (!Array.isArray(referenceImages) || referenceImages.length < 1 || referenceImages.length > 3) {
      return { problem: 'instances[0].referenceImages must hold 1 to 3 images' };
    }
    for (const [index, reference] of referenceImages.entries()) {
      const field = `instances[0].referenceImages[${index}]`;
      if (!isObject(reference)) return { problem: `${field} must be an object` };
      const problem = checkImage(reference.image, `${field}.image`, allowGcsUri);
      if (problem) return { problem };
      const type = typeof reference.referenceType === 'string' ? reference.referenceType.toLowerCase() : '';
      if (type !== 'asset' && type !== 'style')
        return { problem: `${field}.referenceType must be asset or style` };
    }
  }

  const parameters: unknown = body.parameters ?? {};
  if (!isObject(parameters)) return { problem: 'parameters must be an object' };
  const problem = checkParameters(shape, model, parameters, {
    video,
    references: referenceImages !== undefined,
    lastFrame: lastFrame !== undefined,
    image: image !== undefined,
  });
  if (problem) return { problem };
  const { aspectRatio, resolution, durationSeconds, sampleCount, generateAudio } = parameters;
  const ratio = aspectRatio === '9:16' ? '9:16' : '16:9';
  // An extension is the source and 7 more seconds, at 720p (the source's length read from its MP4).
  const sourceSeconds = video?.kind === 'inline' ? Math.round(mp4Info(video.bytes)?.durationSeconds ?? 8) : 8;
  const output = videoSpec(
    ratio,
    video ? '720p' : ((resolution as SimResolution | undefined) ?? '720p'),
    video ? sourceSeconds + EXTENSION_SECONDS : Number(durationSeconds ?? 8),
    generateAudio !== false,
  );
  return {
    fields: { prompt: prompt ?? '', aspectRatio },
    parameters,
    output,
    samples: Number(sampleCount ?? 1),
    ...(video ? { video } : {}),
  };
}

/** Veo extends a video by 7 seconds (Gemini API video guide; Vertex AI "extended by 7 seconds"). */
export const EXTENSION_SECONDS = 7;

const personValues = ['allow_all', 'allow_adult', 'dont_allow'];

/**
 * The parameters' rules, the simulator's own copy written from Google's documents (not from the core's
 * capability table, so that a mistake there shows up here as a 400):
 *  - both APIs: aspectRatio 16:9 | 9:16; durationSeconds 4, 6 or 8, and 8 with reference images, a last
 *    frame, 1080p or 4k; an extension is 720p (Gemini: durationSeconds 8; Vertex: 7);
 *  - Gemini API: resolution 720p, 1080p or 4k; sampleCount (numberOfVideos) 1 for Veo 3.x; personGeneration
 *    allow_all for text-to-video and extension, allow_adult with images;
 *  - Vertex AI: resolution 720p or 1080p; reference images 16:9 only; sampleCount 1 to 4;
 *  - Lite models (veo-3.1-lite-*): no 4k, reference images, last frame or extension.
 */
function checkParameters(
  shape: GoogleShape,
  model: string,
  parameters: Record<string, unknown>,
  inputs: { video?: VeoVideoInput; references: boolean; lastFrame: boolean; image: boolean },
): string | undefined {
  const { aspectRatio, resolution, durationSeconds, sampleCount, negativePrompt, personGeneration } =
    parameters;
  const lite = model.includes('lite');
  const { video, references, lastFrame } = inputs;
  if (aspectRatio !== undefined && aspectRatio !== '16:9' && aspectRatio !== '9:16') {
    return `aspectRatio ${JSON.stringify(aspectRatio)} is not supported; use 16:9 or 9:16`;
  }
  const resolutionValues = shape === 'vertex' || lite ? ['720p', '1080p'] : ['720p', '1080p', '4k'];
  if (resolution !== undefined && !resolutionValues.includes(String(resolution))) {
    return `resolution ${JSON.stringify(resolution)} is not supported by ${model}; use ${resolutionValues.join(' or ')}`;
  }
  if (lite && (video || references || lastFrame)) {
    const input = video ? 'video extension' : references ? 'referenceImages' : 'lastFrame';
    return `${input} is not supported by ${model}`;
  }
  if (video) {
    const problem = checkExtensionParameters(shape, durationSeconds, resolution);
    if (problem) return problem;
  } else if (durationSeconds !== undefined && ![4, 6, 8].includes(Number(durationSeconds))) {
    return 'durationSeconds must be 4, 6 or 8';
  }
  const needsEight = !video && (references || lastFrame || (resolution ?? '720p') !== '720p');
  if (needsEight && durationSeconds !== undefined && Number(durationSeconds) !== 8) {
    return 'durationSeconds must be 8 with reference images, a last frame, 1080p or 4k';
  }
  if (shape === 'vertex' && references && aspectRatio === '9:16') {
    return 'referenceImages are supported with aspectRatio 16:9 only';
  }
  const maxSamples = shape === 'vertex' ? 4 : 1;
  if (
    sampleCount !== undefined &&
    (!Number.isInteger(sampleCount) || Number(sampleCount) < 1 || Number(sampleCount) > maxSamples)
  ) {
    return maxSamples === 1
      ? `sampleCount must be 1 for ${model}`
      : `sampleCount must be an integer from 1 to ${maxSamples}`;
  }
  if (negativePrompt !== undefined && typeof negativePrompt !== 'string')
    return 'negativePrompt must be a string';
  if (personGeneration !== undefined) {
    if (!personValues.includes(String(personGeneration))) {
      return `personGeneration must be one of ${personValues.join(', ')}`;
    }
    if (shape === 'gemini') {
      const withImages = inputs.image || references;
      const allowed = withImages ? 'allow_adult' : 'allow_all';
      if (personGeneration !== allowed) {
        return `personGeneration ${String(personGeneration)} is not supported ${withImages ? 'with images' : 'for text-to-video or extension'}; use ${allowed}`;
      }
    }
  }
  return undefined;
}

/**
 * An extension's parameters. Vertex AI adds 7 seconds (its extension guide: "extended by 7 seconds") and
 * wants durationSeconds 7; the Gemini API's parameter notes ask for durationSeconds 8 with an extension.
 * Both make it at 720p only.
 */
function checkExtensionParameters(
  shape: GoogleShape,
  durationSeconds: unknown,
  resolution: unknown,
): string | undefined {
  if (shape === 'vertex') {
    if (durationSeconds !== undefined && Number(durationSeconds) !== 7)
      return 'durationSeconds must be 7 for a video extension';
  } else if (durationSeconds !== undefined && Number(durationSeconds) !== 8) {
    return 'durationSeconds must be 8 for a video extension';
  }
  if (resolution !== undefined && resolution !== '720p') return 'Video extension supports 720p only';
  return undefined;
}

/** What a content-filtered generation reports in `raiMediaFilteredReasons`. */
export const filteredReason =
  'We encountered an issue with the audio or video for your prompt. The prompt could not be submitted: it may violate our policies. Support codes: 29310472';
