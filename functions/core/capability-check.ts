import {
  type CapabilityField,
  type CapabilityModel,
  type Condition,
  capabilityTable,
  EXTENSION_RESOLUTION,
  EXTENSION_SECONDS,
  type GenerationMode,
  type PersonGeneration,
  type Resolution,
  type UpstreamShape,
  type VideoAspectRatio,
} from './capabilities';
import { type VeoOptions, veoOptionKeys } from './veo-options';

/** The capability table's verdict on one request (core/capabilities.ts holds the table itself). */

/** The Veo options as the table judges them: any duration, an extension's included. */
type JudgedOptions = Omit<VeoOptions, 'durationSeconds'> & { durationSeconds?: number };

/**
 * What capabilityRequestOf reads of the worker's UpstreamRequest (ports/provider.ts), declared here so
 * the table imports nothing (the request schema reads the table; the ports read the schema).
 */
interface UpstreamRequestLike extends JudgedOptions {
  model: CapabilityModel;
  generationType: Exclude<GenerationMode, 'EXTEND'>;
  aspectRatio: VideoAspectRatio;
  seed: number;
  images: readonly unknown[];
  imageUrls: readonly string[];
  extend?: unknown;
}

/** A request as the table judges it; unset fields take the defaults (720p, 8 s, audio, one sample). */
export interface CapabilityRequest extends JudgedOptions {
  model: CapabilityModel;
  mode: GenerationMode;
  aspectRatio: VideoAspectRatio;
  /** How many images came with it (a second image of FIRST_AND_LAST_FRAMES_2_VIDEO is the last frame). */
  imageCount?: number;
  seed?: number;
}

/** The capability request of what the worker hands a provider (e.g. to check it again before submitting). */
export function capabilityRequestOf(request: UpstreamRequestLike): CapabilityRequest {
  const out: CapabilityRequest = {
    model: request.model,
    mode: request.extend ? 'EXTEND' : request.generationType,
    aspectRatio: request.aspectRatio,
    imageCount: request.extend ? 0 : Math.max(request.images.length, request.imageUrls.length),
    seed: request.seed,
  };
  // The asks the request set, and only those: an unset one is the table's default.
  for (const ask of veoOptionKeys)
    if (request[ask] !== undefined) Object.assign(out, { [ask]: request[ask] });
  return out;
}

/** What will be made: the request with defaults filled in. An extension's duration is what it adds. */
export interface AppliedCapabilities {
  model: CapabilityModel;
  upstreamModel: string;
  mode: GenerationMode;
  aspectRatio: VideoAspectRatio;
  resolution: Resolution;
  durationSeconds: number;
  generateAudio: boolean;
  sampleCount: number;
  negativePrompt?: string;
  personGeneration?: PersonGeneration;
  seed?: number;
}

export type CapabilityCheck =
  | { ok: true; applied: AppliedCapabilities; notApplied: CapabilityField[] }
  | { ok: false; field: CapabilityField; message: string; rule?: string };

/**
 * Whether `upstream` can honour `request`, and what it will make. Pure. The refusal names the field and
 * the upstream, e.g. "resolution 4k is not available on veo3_lite (gemini)".
 */
export function checkCapabilities(request: CapabilityRequest, upstream: UpstreamShape): CapabilityCheck {
  const table = capabilityTable[upstream];
  const cell = table.models[request.model];
  const on = `on ${request.model} (${upstream})`;
  const refuse = (field: CapabilityField, message: string, rule?: string): CapabilityCheck => ({
    ok: false,
    field,
    message,
    ...(rule ? { rule } : {}),
  });
  if (!cell) return refuse('model', `model ${String(request.model)} is not available (${upstream})`);
  const extend = request.mode === 'EXTEND';
  if (!cell.modes.includes(request.mode)) {
    return extend
      ? refuse('model', `extension is not available ${on}`)
      : refuse('generationType', `generationType ${request.mode} is not available ${on}`);
  }
  const lastFrame = request.mode === 'FIRST_AND_LAST_FRAMES_2_VIDEO' && (request.imageCount ?? 1) >= 2;
  if (lastFrame && !cell.lastFrame)
    return refuse('imageUrls', `imageUrls with a last frame (a second image) is not available ${on}`);
  if (!cell.aspectRatios.includes(request.aspectRatio))
    return refuse('aspectRatio', `aspectRatio ${request.aspectRatio} is not available ${on}`);
  const resolution = request.resolution ?? (extend ? EXTENSION_RESOLUTION : '720p');
  if (!cell.resolutions.includes(resolution) && !(extend && resolution === EXTENSION_RESOLUTION))
    return refuse('resolution', `resolution ${resolution} is not available ${on}`);
  let durationSeconds: number;
  if (extend) {
    if (request.durationSeconds !== undefined && request.durationSeconds !== EXTENSION_SECONDS)
      return refuse(
        'duration',
        `duration ${request.durationSeconds} is not available for an extension ${on}: it adds ${EXTENSION_SECONDS} seconds`,
      );
    durationSeconds = EXTENSION_SECONDS;
  } else {
    durationSeconds = request.durationSeconds ?? 8;
    if (!(cell.durations as readonly number[]).includes(durationSeconds))
      return refuse(
        'duration',
        `duration ${durationSeconds} is not available ${on}; use ${cell.durations.join(', ')}`,
      );
  }

  const options = table.options;
  const notApplied: CapabilityField[] = [];
  const generateAudio = request.generateAudio ?? true;
  if (options.generateAudio === 'always' && !generateAudio)
    return refuse('generateAudio', `generateAudio false is not available ${on}: it always makes audio`);
  if (options.generateAudio === 'refused' && request.generateAudio !== undefined)
    return refuse('generateAudio', `generateAudio is not available ${on}`);
  for (const field of ['negativePrompt', 'personGeneration'] as const) {
    if (request[field] === undefined) continue;
    if (options[field] === 'refused') return refuse(field, `${field} is not available ${on}`);
    if (options[field] === 'dropped') notApplied.push(field);
  }
  if (request.seed !== undefined) {
    if (options.seed === 'refused') return refuse('seeds', `seeds is not available ${on}`);
    if (options.seed === 'dropped') notApplied.push('seeds');
  }
  const sampleCount = request.sampleCount ?? 1;
  if (
    !Number.isInteger(sampleCount) ||
    sampleCount < options.sampleCount.min ||
    sampleCount > options.sampleCount.max
  ) {
    const range =
      options.sampleCount.max === 1 ? 'only 1' : `${options.sampleCount.min} to ${options.sampleCount.max}`;
    return refuse('sampleCount', `sampleCount ${sampleCount} is not available ${on}: ${range}`);
  }

  const facts = {
    model: request.model,
    mode: request.mode,
    aspectRatio: request.aspectRatio,
    resolution,
    durationSeconds: request.durationSeconds ?? (extend ? EXTENSION_SECONDS : 8),
    lastFrame,
    personGeneration: request.personGeneration,
  };
  for (const rule of table.rules) {
    if (!matches(rule.when, facts)) continue;
    for (const [key, allowed] of Object.entries(rule.require) as [keyof Condition, readonly unknown[]][]) {
      const value = facts[key];
      if (value === undefined || allowed.includes(value)) continue;
      const field = fieldOf(key);
      return refuse(field, `${field} ${String(value)} is not available ${on}: ${rule.reason}`, rule.id);
    }
  }

  const applied: AppliedCapabilities = {
    model: request.model,
    upstreamModel: cell.upstreamModel,
    mode: request.mode,
    aspectRatio: request.aspectRatio,
    resolution,
    durationSeconds,
    generateAudio: options.generateAudio === 'always' ? true : generateAudio,
    sampleCount,
  };
  if (request.negativePrompt !== undefined && !notApplied.includes('negativePrompt'))
    applied.negativePrompt = request.negativePrompt;
  if (request.personGeneration !== undefined && !notApplied.includes('personGeneration'))
    applied.personGeneration = request.personGeneration;
  if (request.seed !== undefined && !notApplied.includes('seeds')) applied.seed = request.seed;
  return { ok: true, applied, notApplied };
}

type Facts = {
  model: CapabilityModel;
  mode: GenerationMode;
  aspectRatio: VideoAspectRatio;
  resolution: Resolution;
  durationSeconds: number;
  lastFrame: boolean;
  personGeneration?: PersonGeneration;
};

function matches(when: Condition, facts: Facts): boolean {
  return (Object.entries(when) as [keyof Condition, readonly unknown[]][]).every(([key, values]) =>
    values.includes(facts[key]),
  );
}

function fieldOf(key: keyof Condition): CapabilityField {
  switch (key) {
    case 'mode':
      return 'generationType';
    case 'durationSeconds':
      return 'duration';
    case 'lastFrame':
      return 'imageUrls';
    default:
      return key;
  }
}
