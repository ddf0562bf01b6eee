import {
  type CapabilityModel,
  capabilityModels,
  durations,
  type GenerationMode,
  type PersonGeneration,
  personGenerationValues,
  type Resolution,
  resolutions,
  type UpstreamShape,
  upstreamShapes,
} from '../../functions/core/capabilities';
import { type CapabilityRequest, checkCapabilities } from '../../functions/core/capability-check';

/**
 * Which of the playground's choices the deployment's upstream can honour. The rules are not written
 * here: every choice is judged by the capability table's own check (core/capabilities.ts), bundled into
 * the page, for the upstream GET /api/v1/capabilities.json names.
 */

/** The form as chosen, in the API's field names; text as the controls hold it. */
export interface Choices {
  model: string;
  generationType: string;
  aspectRatio: string;
  resolution: string;
  duration: string;
  sampleCount: string;
  personGeneration: string;
  negativePrompt: string;
  generateAudio: boolean;
  imageCount: number;
}

/** The choices the page offers, per control; `''` is "not sent" (the API's default). */
export const offered = {
  model: capabilityModels,
  generationType: ['', 'TEXT_2_VIDEO', 'FIRST_AND_LAST_FRAMES_2_VIDEO', 'REFERENCE_2_VIDEO'],
  aspectRatio: ['16:9', '9:16', 'Auto'],
  resolution: resolutions,
  duration: durations.map(String),
  sampleCount: ['1', '2', '3', '4'],
  personGeneration: ['', ...personGenerationValues],
} as const satisfies Partial<Record<keyof Choices, readonly string[]>>;

export type SelectControl = keyof typeof offered;

export function isUpstreamShape(name: unknown): name is UpstreamShape {
  return (upstreamShapes as readonly unknown[]).includes(name);
}

/** As the API infers it: no image is text, one or two are frames, more are references. */
function modeOf(choices: Choices): Exclude<GenerationMode, 'EXTEND'> {
  if (choices.generationType) return choices.generationType as Exclude<GenerationMode, 'EXTEND'>;
  if (choices.imageCount === 0) return 'TEXT_2_VIDEO';
  return choices.imageCount <= 2 ? 'FIRST_AND_LAST_FRAMES_2_VIDEO' : 'REFERENCE_2_VIDEO';
}

/** The request the API would judge at submit (an `Auto` ratio is judged as 16:9, as submit does). */
export function capabilityRequest(choices: Choices): CapabilityRequest {
  const request: CapabilityRequest = {
    model: choices.model as CapabilityModel,
    mode: modeOf(choices),
    aspectRatio: choices.aspectRatio === '9:16' ? '9:16' : '16:9',
    imageCount: choices.imageCount,
    resolution: choices.resolution as Resolution,
    durationSeconds: Number(choices.duration),
    generateAudio: choices.generateAudio,
    sampleCount: Number(choices.sampleCount),
  };
  if (choices.personGeneration) request.personGeneration = choices.personGeneration as PersonGeneration;
  if (choices.negativePrompt.trim()) request.negativePrompt = choices.negativePrompt.trim();
  return request;
}

/** Why the upstream would refuse the choices as they stand, or undefined when it honours them. */
export function refusal(choices: Choices, upstream: UpstreamShape): string | undefined {
  const check = checkCapabilities(capabilityRequest(choices), upstream);
  return check.ok ? undefined : check.message;
}

/**
 * For each control, the values the upstream would refuse with every other choice as it stands, and
 * why; for the audio box and the negative prompt, whether turning audio off / writing one is refused.
 */
export function refusedChoices(choices: Choices, upstream: UpstreamShape) {
  const refused = {} as Record<SelectControl, Map<string, string>>;
  for (const control of Object.keys(offered) as SelectControl[]) {
    refused[control] = new Map();
    for (const value of offered[control]) {
      const message = refusal({ ...choices, [control]: value }, upstream);
      if (message) refused[control].set(value, message);
    }
  }
  return {
    selects: refused,
    audioOff: refusal({ ...choices, generateAudio: false }, upstream),
    negativePrompt: refusal({ ...choices, negativePrompt: choices.negativePrompt || 'blurry' }, upstream),
  };
}
