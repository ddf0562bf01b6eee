/**
 * What each upstream shape and model can do: one table, as data. Validation, the OpenAPI document, the
 * playground, the README and the tests that walk every cell all read it; nothing else may hard-code a
 * Veo limit. Each rule carries the source it was read from (November 2026).
 *
 * A field the upstream cannot pass on is REFUSED (422 naming the field and the upstream), except the ones
 * that are harmless to drop, which are accepted and listed in `notApplied`:
 *   - `seeds` on the Gemini API (and the simulator, which speaks it): a seed only makes a run repeatable; a
 *     video made without it is still the video asked for.
 * Everything else that changes what is made (resolution, duration, audio off, negative prompt, person
 * policy, several samples, a last frame) is refused, never dropped.
 */

const SOURCES = {
  geminiVideo: 'https://ai.google.dev/gemini-api/docs/video',
  geminiPricing: 'https://ai.google.dev/gemini-api/docs/pricing',
  vertexReference:
    'https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/veo-video-generation',
  vertexModel:
    'https://docs.cloud.google.com/gemini-enterprise-agent-platform/models/veo/3-1-generate.md.txt',
  vertexLite: 'https://vercel.com/ai-gateway/models/veo-3.1-lite-generate-001/api',
  liteNo4kNoExtension: 'https://www.atlascloud.ai/hi/models/google/veo3.1-lite/image-to-video',
  liteSingleImage: 'https://developer.civitai.com/orchestration/recipes/veo3',
  kieGenerate: 'https://docs.kie.ai/veo3-api/generate-veo-3-video',
  kieGenerate2026: 'https://dog-test.kie.ai/veo3-api/generate-veo-3-video',
  issue15: 'issue 15 (public docs read in November 2026)',
} as const;

export const upstreamShapes = ['vertex', 'gemini', 'kie', 'simulator'] as const;
export type UpstreamShape = (typeof upstreamShapes)[number];

export const capabilityModels = ['veo3', 'veo3_fast', 'veo3_lite'] as const;
export type CapabilityModel = (typeof capabilityModels)[number];

/** The generate API's generation types, plus EXTEND for POST /veo/extend. */
export const generationModes = [
  'TEXT_2_VIDEO',
  'FIRST_AND_LAST_FRAMES_2_VIDEO',
  'REFERENCE_2_VIDEO',
  'EXTEND',
] as const;
export type GenerationMode = (typeof generationModes)[number];

export const videoAspectRatios = ['16:9', '9:16'] as const;
export type VideoAspectRatio = (typeof videoAspectRatios)[number];

export const resolutions = ['720p', '1080p', '4k'] as const;
export type Resolution = (typeof resolutions)[number];

/** Durations a generation may ask for; an extension adds EXTENSION_SECONDS to its source instead. */
export const durations = [4, 6, 8] as const;
export type Duration = (typeof durations)[number];

/** Veo extends a video by 7 seconds, at 720p (Gemini API video guide; Vertex AI extend-videos guide). */
export const EXTENSION_SECONDS = 7;
export const EXTENSION_RESOLUTION: Resolution = '720p';

export const personGenerationValues = ['allow_all', 'allow_adult', 'dont_allow'] as const;
export type PersonGeneration = (typeof personGenerationValues)[number];

/** The public API's names of the fields, as messages name them. */
export type CapabilityField =
  | 'model'
  | 'generationType'
  | 'imageUrls'
  | 'aspectRatio'
  | 'resolution'
  | 'duration'
  | 'generateAudio'
  | 'negativePrompt'
  | 'personGeneration'
  | 'sampleCount'
  | 'seeds';

/** What one model honours on one upstream. */
export interface ModelCapabilities {
  /** The id the upstream knows it by (default; configurable per deployment). */
  upstreamModel: string;
  modes: readonly GenerationMode[];
  aspectRatios: readonly VideoAspectRatio[];
  resolutions: readonly Resolution[];
  durations: readonly Duration[];
  /** Whether FIRST_AND_LAST_FRAMES_2_VIDEO may carry a second (last) frame. */
  lastFrame: boolean;
}

/**
 * How an option travels: `passed` in the upstream's wire format; `always` (the upstream always does it:
 * asking for it is honoured, asking against it is refused); `dropped` (accepted, recorded as not applied:
 * harmless, see the header); `refused`.
 */
export type OptionSupport = 'passed' | 'always' | 'dropped' | 'refused';

export interface UpstreamOptions {
  generateAudio: OptionSupport;
  negativePrompt: OptionSupport;
  personGeneration: OptionSupport;
  seed: OptionSupport;
  sampleCount: { min: number; max: number };
}

/** Values a request field takes, for the conditions of a rule. */
export interface Condition {
  model?: readonly CapabilityModel[];
  mode?: readonly GenerationMode[];
  aspectRatio?: readonly VideoAspectRatio[];
  resolution?: readonly Resolution[];
  durationSeconds?: readonly number[];
  lastFrame?: readonly boolean[];
  personGeneration?: readonly PersonGeneration[];
}

/** When the request matches `when`, each field of `require` must hold one of its values. */
export interface Rule {
  id: string;
  when: Condition;
  require: Condition;
  /** Why, as the refusal says it. */
  reason: string;
  source: string;
}

export interface UpstreamCapabilities {
  models: Record<CapabilityModel, ModelCapabilities>;
  options: UpstreamOptions;
  rules: readonly Rule[];
  sources: readonly string[];
}

const both: readonly VideoAspectRatio[] = videoAspectRatios;
const allDurations: readonly Duration[] = durations;
const imageModes = ['FIRST_AND_LAST_FRAMES_2_VIDEO', 'REFERENCE_2_VIDEO'] as const;

/** Rules both Google APIs share (Veo 3.1 itself), each cited from the API's own document. */
const googleRules = (source: string): readonly Rule[] => [
  {
    id: 'hd-needs-8s',
    when: {
      resolution: ['1080p', '4k'],
      mode: ['TEXT_2_VIDEO', 'FIRST_AND_LAST_FRAMES_2_VIDEO', 'REFERENCE_2_VIDEO'],
    },
    require: { durationSeconds: [8] },
    reason: '1080p and 4k need 8 seconds',
    source,
  },
  {
    id: 'references-need-8s',
    when: { mode: ['REFERENCE_2_VIDEO'] },
    require: { durationSeconds: [8] },
    reason: 'reference images need 8 seconds',
    source,
  },
  {
    id: 'last-frame-needs-8s',
    when: { lastFrame: [true] },
    require: { durationSeconds: [8] },
    reason: 'a last frame (interpolation) needs 8 seconds',
    source,
  },
  {
    id: 'extension-720p',
    when: { mode: ['EXTEND'] },
    require: { resolution: [EXTENSION_RESOLUTION] },
    reason: 'an extension is made at 720p',
    source,
  },
];

const geminiModels: Record<CapabilityModel, ModelCapabilities> = {
  veo3: {
    upstreamModel: 'veo-3.1-generate-preview',
    modes: generationModes,
    aspectRatios: both,
    resolutions: ['720p', '1080p', '4k'],
    durations: allDurations,
    lastFrame: true,
  },
  veo3_fast: {
    upstreamModel: 'veo-3.1-fast-generate-preview',
    modes: generationModes,
    aspectRatios: both,
    resolutions: ['720p', '1080p', '4k'],
    durations: allDurations,
    lastFrame: true,
  },
  // Lite: text and single image to video, 720p/1080p; no 4K, references, last frame or extension.
  veo3_lite: {
    upstreamModel: 'veo-3.1-lite-generate-preview',
    modes: ['TEXT_2_VIDEO', 'FIRST_AND_LAST_FRAMES_2_VIDEO'],
    aspectRatios: both,
    resolutions: ['720p', '1080p'],
    durations: allDurations,
    lastFrame: false,
  },
};

const gemini: UpstreamCapabilities = {
  models: geminiModels,
  options: {
    // Veo 3 always makes audio on the Gemini API, and the API refuses the parameter.
    generateAudio: 'always',
    negativePrompt: 'passed',
    personGeneration: 'passed',
    seed: 'dropped',
    // numberOfVideos: 1 for Veo 3.x.
    sampleCount: { min: 1, max: 1 },
  },
  rules: [
    ...googleRules(SOURCES.geminiVideo),
    {
      id: 'gemini-person-text',
      when: { mode: ['TEXT_2_VIDEO', 'EXTEND'] },
      require: { personGeneration: ['allow_all'] },
      reason: 'text-to-video and extension take personGeneration allow_all only',
      source: SOURCES.geminiVideo,
    },
    {
      id: 'gemini-person-images',
      when: { mode: imageModes },
      require: { personGeneration: ['allow_adult'] },
      reason: 'image-based generation takes personGeneration allow_adult only',
      source: SOURCES.geminiVideo,
    },
  ],
  sources: [SOURCES.geminiVideo, SOURCES.liteNo4kNoExtension, SOURCES.liteSingleImage, SOURCES.issue15],
};

const vertex: UpstreamCapabilities = {
  models: {
    veo3: { ...geminiModels.veo3, upstreamModel: 'veo-3.1-generate-001', resolutions: ['720p', '1080p'] },
    veo3_fast: {
      ...geminiModels.veo3_fast,
      upstreamModel: 'veo-3.1-fast-generate-001',
      resolutions: ['720p', '1080p'],
    },
    veo3_lite: { ...geminiModels.veo3_lite, upstreamModel: 'veo-3.1-lite-generate-001' },
  },
  options: {
    generateAudio: 'passed',
    negativePrompt: 'passed',
    personGeneration: 'passed',
    seed: 'passed',
    sampleCount: { min: 1, max: 4 },
  },
  rules: [
    ...googleRules(SOURCES.vertexReference),
    {
      id: 'vertex-references-16x9',
      when: { mode: ['REFERENCE_2_VIDEO'] },
      require: { aspectRatio: ['16:9'] },
      reason: 'reference images take 16:9 only',
      source: SOURCES.vertexReference,
    },
  ],
  sources: [SOURCES.vertexReference, SOURCES.vertexModel, SOURCES.vertexLite, SOURCES.issue15],
};

const kie: UpstreamCapabilities = {
  models: {
    veo3: {
      upstreamModel: 'veo3',
      modes: ['TEXT_2_VIDEO', 'FIRST_AND_LAST_FRAMES_2_VIDEO', 'EXTEND'],
      aspectRatios: both,
      resolutions: ['720p', '1080p', '4k'],
      durations: allDurations,
      lastFrame: true,
    },
    veo3_fast: {
      upstreamModel: 'veo3_fast',
      modes: generationModes,
      aspectRatios: both,
      resolutions: ['720p', '1080p', '4k'],
      durations: allDurations,
      lastFrame: true,
    },
    // kie's extend API knows only `fast` and `quality`: no extension of a Lite video.
    veo3_lite: {
      upstreamModel: 'veo3_lite',
      modes: ['TEXT_2_VIDEO', 'FIRST_AND_LAST_FRAMES_2_VIDEO', 'REFERENCE_2_VIDEO'],
      aspectRatios: both,
      resolutions: ['720p', '1080p'],
      durations: allDurations,
      lastFrame: true,
    },
  },
  options: {
    // "All videos ship with background audio by default."
    generateAudio: 'always',
    negativePrompt: 'refused',
    personGeneration: 'refused',
    seed: 'passed',
    sampleCount: { min: 1, max: 1 },
  },
  rules: [
    // kie relays Veo 3.1: Google's 8-second rule for 1080p/4K holds there too (assumed; kie does not say).
    {
      id: 'kie-hd-needs-8s',
      when: {
        resolution: ['1080p', '4k'],
        mode: ['TEXT_2_VIDEO', 'FIRST_AND_LAST_FRAMES_2_VIDEO', 'REFERENCE_2_VIDEO'],
      },
      require: { durationSeconds: [8] },
      reason: '1080p and 4k need 8 seconds',
      source: SOURCES.geminiVideo,
    },
    {
      id: 'kie-references-need-8s',
      when: { mode: ['REFERENCE_2_VIDEO'] },
      require: { durationSeconds: [8] },
      reason: 'reference images need 8 seconds',
      source: SOURCES.geminiVideo,
    },
    {
      id: 'kie-extension-720p',
      when: { mode: ['EXTEND'] },
      require: { resolution: [EXTENSION_RESOLUTION] },
      reason: 'an extension is made at 720p',
      source: SOURCES.geminiVideo,
    },
  ],
  sources: [SOURCES.kieGenerate, SOURCES.kieGenerate2026, SOURCES.issue15],
};

/**
 * THE table. `simulator` is the project's own simulator reached through its Gemini API shape (the
 * `simulator` provider is the Gemini provider pointed at it), so it honours what the Gemini API does.
 */
export const capabilityTable: Record<UpstreamShape, UpstreamCapabilities> = {
  vertex,
  gemini,
  kie,
  simulator: gemini,
};

/**
 * Google's published prices in USD per second of video (Gemini API; 720p / 1080p / 4k, with audio), for
 * the pricing table's default ratios. Lite has no 4K. Source: SOURCES.geminiPricing, as quoted in issue 15.
 */
export const publishedUsdPerSecond: Record<CapabilityModel, Partial<Record<Resolution, number>>> = {
  veo3: { '720p': 0.4, '1080p': 0.4, '4k': 0.6 },
  veo3_fast: { '720p': 0.1, '1080p': 0.12, '4k': 0.3 },
  veo3_lite: { '720p': 0.05, '1080p': 0.08 },
};
