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

/**
 * What capabilityRequestOf reads of the worker's UpstreamRequest (ports/provider.ts), declared here so
 * the table imports nothing (the request schema reads the table; the ports read the schema).
 */
interface UpstreamRequestLike {
  model: CapabilityModel;
  generationType: Exclude<GenerationMode, 'EXTEND'>;
  aspectRatio: VideoAspectRatio;
  seed: number;
  images: readonly unknown[];
  imageUrls: readonly string[];
  extend?: unknown;
  resolution?: Resolution;
  durationSeconds?: number;
  generateAudio?: boolean;
  negativePrompt?: string;
  personGeneration?: PersonGeneration;
  sampleCount?: number;
}

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

/** A request as the table judges it; unset fields take the defaults (720p, 8 s, audio, one sample). */
export interface CapabilityRequest {
  model: CapabilityModel;
  mode: GenerationMode;
  aspectRatio: VideoAspectRatio;
  /** How many images came with it (a second image of FIRST_AND_LAST_FRAMES_2_VIDEO is the last frame). */
  imageCount?: number;
  resolution?: Resolution;
  durationSeconds?: number;
  generateAudio?: boolean;
  negativePrompt?: string;
  personGeneration?: PersonGeneration;
  sampleCount?: number;
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
  if (request.resolution !== undefined) out.resolution = request.resolution;
  if (request.durationSeconds !== undefined) out.durationSeconds = request.durationSeconds;
  if (request.generateAudio !== undefined) out.generateAudio = request.generateAudio;
  if (request.negativePrompt !== undefined) out.negativePrompt = request.negativePrompt;
  if (request.personGeneration !== undefined) out.personGeneration = request.personGeneration;
  if (request.sampleCount !== undefined) out.sampleCount = request.sampleCount;
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

/** One cell of the table: a request on an upstream, and the verdict. */
export interface CapabilityCell {
  upstream: UpstreamShape;
  request: CapabilityRequest;
  check: CapabilityCheck;
}

/**
 * Every cell: per upstream, model × mode (first-and-last with one image and with two) × aspect ratio ×
 * resolution × duration (an extension: its 7 s), then each option's values on the default request of
 * every model. For tests, the OpenAPI document and the playground.
 */
export function capabilityCells(upstreams: readonly UpstreamShape[] = upstreamShapes): CapabilityCell[] {
  const cells: CapabilityCell[] = [];
  const add = (upstream: UpstreamShape, request: CapabilityRequest) =>
    cells.push({ upstream, request, check: checkCapabilities(request, upstream) });
  for (const upstream of upstreams) {
    for (const model of capabilityModels) {
      for (const mode of generationModes) {
        const imageCounts =
          mode === 'TEXT_2_VIDEO' || mode === 'EXTEND' ? [0] : mode === 'REFERENCE_2_VIDEO' ? [1] : [1, 2];
        for (const imageCount of imageCounts)
          for (const aspectRatio of videoAspectRatios)
            for (const resolution of resolutions)
              for (const durationSeconds of mode === 'EXTEND' ? [EXTENSION_SECONDS] : durations)
                add(upstream, { model, mode, aspectRatio, imageCount, resolution, durationSeconds });
      }
      const base = { model, mode: 'TEXT_2_VIDEO', aspectRatio: '16:9' } as const;
      for (const generateAudio of [true, false]) add(upstream, { ...base, generateAudio });
      add(upstream, { ...base, negativePrompt: 'blurry, low quality' });
      for (const personGeneration of personGenerationValues) {
        add(upstream, { ...base, personGeneration });
        add(upstream, { ...base, mode: 'FIRST_AND_LAST_FRAMES_2_VIDEO', imageCount: 1, personGeneration });
      }
      for (const sampleCount of [1, 2, 4, 5]) add(upstream, { ...base, sampleCount });
      add(upstream, { ...base, seed: 12345 });
    }
  }
  return cells;
}

/**
 * The table as Markdown, for the README and the docs: one row per upstream and model, then each
 * upstream's options and rules with their sources. Read from the data, never written by hand.
 */
export function capabilityMarkdown(upstreams: readonly UpstreamShape[] = upstreamShapes): string {
  const lines = [
    '| upstream | model | upstream model id | modes | ratios | resolutions | durations (s) | last frame |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const upstream of upstreams) {
    for (const model of capabilityModels) {
      const cell = capabilityTable[upstream].models[model];
      lines.push(
        `| ${upstream} | ${model} | \`${cell.upstreamModel}\` | ${cell.modes.join(', ')} | ${cell.aspectRatios.join(', ')} | ${cell.resolutions.join(', ')} | ${cell.durations.join(', ')} | ${cell.lastFrame ? 'yes' : 'no'} |`,
      );
    }
  }
  lines.push(
    '',
    '| upstream | generateAudio | negativePrompt | personGeneration | seeds | sampleCount |',
    '|---|---|---|---|---|---|',
  );
  for (const upstream of upstreams) {
    const o = capabilityTable[upstream].options;
    lines.push(
      `| ${upstream} | ${o.generateAudio} | ${o.negativePrompt} | ${o.personGeneration} | ${o.seed} | ${o.sampleCount.min}–${o.sampleCount.max} |`,
    );
  }
  // The model and option rows above are read from each upstream's own documents.
  lines.push('', '| upstream | sources of its model and option rows |', '|---|---|');
  for (const upstream of upstreams) {
    lines.push(`| ${upstream} | ${capabilityTable[upstream].sources.join(' · ')} |`);
  }
  lines.push('', '| upstream | rule | when | then | source |', '|---|---|---|---|---|');
  const describe = (condition: Condition) =>
    Object.entries(condition)
      .map(([key, values]) => `${key} ∈ {${(values as readonly unknown[]).join(', ')}}`)
      .join(' and ');
  for (const upstream of upstreams) {
    for (const rule of capabilityTable[upstream].rules) {
      lines.push(
        `| ${upstream} | ${rule.id} | ${describe(rule.when)} | ${describe(rule.require)} | ${rule.source} |`,
      );
    }
  }
  return lines.join('\n');
}
