import { readFileSync } from 'node:fs';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeServiceAccount, pngBytes } from '../../../simulator/fixtures';
import { mp4Info } from '../../../simulator/mp4-info';
import { type Simulator, startSimulator } from '../../../simulator/server';
import { type CapabilityField, EXTENSION_SECONDS } from '../../core/capabilities';
import { type CapabilityCell, capabilityCells } from '../../core/capability-cells';
import type { CapabilityRequest } from '../../core/capability-check';
import { UpstreamUnavailableError } from '../../core/errors';
import type { UpstreamRequest, VideoProvider } from '../../core/ports';
import { createProvider } from './index';

/**
 * Walks the capability table (functions/core/capabilities.ts) through each provider's real code against
 * the simulator, which enforces each upstream's rules from its own copy of the docs:
 *   - every allowed cell is generated, and each downloaded MP4's real width, height, length and sound
 *     (read from its boxes) match what the table says will be made;
 *   - every refused cell names its field and upstream, and, sent anyway, is refused by the simulator too
 *     (HTTP 400 from Google's shapes, kie's error envelope), unless the upstream has no wire field for it
 *     (listed in `noWireField`: there it would be silently ignored, which is why the core refuses it).
 * The cells come from capabilityCells(), so a new row or rule is tested without new code. Every cell is
 * run (no sampling): with no latency each takes a few milliseconds, and the simulator makes each distinct
 * MP4 once and caches it on disk.
 */

/** `simulator` is the provider of that name: the Gemini provider against the simulator's Gemini shape. */
type Shape = 'vertex' | 'gemini' | 'kie' | 'simulator';
const shapes: Shape[] = ['vertex', 'gemini', 'kie', 'simulator'];

/** Refusals the upstream cannot even be told about: its API has no field for them. */
const noWireField: Record<Shape, CapabilityField[]> = {
  vertex: [],
  // The Gemini provider never sends generateAudio (the API refuses the parameter; Veo 3 always has sound).
  gemini: ['generateAudio'],
  simulator: ['generateAudio'],
  // kie takes no audio switch, negative prompt, person policy or sample count, and extends at its own size.
  kie: ['generateAudio', 'negativePrompt', 'personGeneration', 'sampleCount', 'resolution'],
};

const frameSize = {
  '16:9': { '720p': [1280, 720], '1080p': [1920, 1080], '4k': [3840, 2160] },
  '9:16': { '720p': [720, 1280], '1080p': [1080, 1920], '4k': [2160, 3840] },
} as const;

const image = { bytes: pngBytes(16, 9), mimeType: 'image/png' as const, width: 16, height: 9 };
const sourceVideo = (ratio: '16:9' | '9:16') =>
  readFileSync(
    new URL(`../../../simulator/assets/sample-${ratio === '16:9' ? '16x9' : '9x16'}.mp4`, import.meta.url),
  );

let simulator: Simulator;
const providers = {} as Record<Shape, VideoProvider>;
/** kie extends only its own tasks: one finished kie task per ratio, made once. */
const kieSources = new Map<string, Promise<string>>();

beforeAll(async () => {
  const account = fakeServiceAccount();
  simulator = await startSimulator({
    latencyMs: 0,
    apiKey: 'gemini-key',
    kieApiKey: 'kie-key',
    vertexServiceAccount: account,
    maxRecordedRequests: 50,
  });
  providers.vertex = createProvider({
    provider: 'vertex',
    serviceAccountKey: account.key,
    region: 'us-central1',
    baseUrl: simulator.url,
    tokenUrl: `${simulator.url}/token`,
  });
  providers.gemini = createProvider({ provider: 'gemini', baseUrl: simulator.url, apiKey: 'gemini-key' });
  providers.kie = createProvider({ provider: 'kie', baseUrl: simulator.url, apiKey: 'kie-key' });
  providers.simulator = createProvider({
    provider: 'simulator',
    baseUrl: simulator.url,
    apiKey: 'gemini-key',
  });
});

afterAll(async () => {
  await simulator?.stop();
});

async function settle(provider: VideoProvider, operation: string) {
  for (let i = 0; i < 200; i++) {
    const status = await provider.poll(operation);
    if (status.state !== 'pending') return status;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${operation} never finished`);
}

function kieSource(ratio: '16:9' | '9:16'): Promise<string> {
  let source = kieSources.get(ratio);
  if (!source) {
    source = (async () => {
      const operation = await providers.kie.submit(upstreamRequest({ ...base, aspectRatio: ratio }));
      await settle(providers.kie, operation);
      return operation;
    })();
    kieSources.set(ratio, source);
  }
  return source;
}

const base = { model: 'veo3', mode: 'TEXT_2_VIDEO', aspectRatio: '16:9' } as const;

/** The request the worker would hand the provider for this cell. */
function upstreamRequest(request: CapabilityRequest, sourceOperation?: string): UpstreamRequest {
  const extend = request.mode === 'EXTEND';
  const imageCount = extend || request.mode === 'TEXT_2_VIDEO' ? 0 : (request.imageCount ?? 1);
  const out: UpstreamRequest = {
    taskId: 'cell',
    prompt: `a lighthouse at dusk (${request.model} ${request.mode})`,
    model: request.model,
    // An extension continues a video; the generation type is not looked at.
    generationType: request.mode === 'EXTEND' ? 'TEXT_2_VIDEO' : request.mode,
    aspectRatio: request.aspectRatio,
    seed: request.seed ?? 12345,
    imageUrls: Array.from({ length: imageCount }, (_, i) => `https://images.example/${i}.png`),
    images: Array.from({ length: imageCount }, () => image),
  };
  if (extend) {
    out.extend = {
      video: { bytes: sourceVideo(request.aspectRatio), mimeType: 'video/mp4' },
      sourceOperation,
    };
  }
  if (request.resolution !== undefined) out.resolution = request.resolution;
  // An extension's length is the upstream's to set (7 s more): the provider sends each API's own value.
  if (request.durationSeconds !== undefined && !extend) out.durationSeconds = request.durationSeconds;
  if (request.generateAudio !== undefined) out.generateAudio = request.generateAudio;
  if (request.negativePrompt !== undefined) out.negativePrompt = request.negativePrompt;
  if (request.personGeneration !== undefined) out.personGeneration = request.personGeneration;
  if (request.sampleCount !== undefined) out.sampleCount = request.sampleCount;
  return out;
}

function label(cell: CapabilityCell): string {
  const { model, mode, aspectRatio, imageCount, resolution, durationSeconds, ...options } = cell.request;
  return `${model} ${mode}${imageCount ? `×${imageCount}` : ''} ${aspectRatio} ${resolution ?? ''} ${durationSeconds ?? ''}s ${JSON.stringify(options)}`;
}

async function sourceFor(shape: Shape, cell: CapabilityCell): Promise<string | undefined> {
  if (shape !== 'kie' || cell.request.mode !== 'EXTEND') return undefined;
  return kieSource(cell.request.aspectRatio);
}

async function runAllowed(shape: Shape, cell: CapabilityCell): Promise<void> {
  if (!cell.check.ok) throw new Error('not an allowed cell');
  const { applied } = cell.check;
  const provider = providers[shape];
  const operation = await provider.submit(upstreamRequest(cell.request, await sourceFor(shape, cell)));
  const status = await settle(provider, operation);
  if (status.state !== 'done') throw new Error(`${shape} ${label(cell)}: ${JSON.stringify(status)}`);
  // kie hands back the stitched video (fullResultUrls) of an extension, as the others do.
  expect(status.videos, label(cell)).toHaveLength(applied.sampleCount);
  const [width, height] = frameSize[applied.aspectRatio][applied.resolution];
  const seconds = applied.mode === 'EXTEND' ? 8 + EXTENSION_SECONDS : applied.durationSeconds;
  for (const video of status.videos) {
    const info = mp4Info(await buffer((await provider.download(video)).body));
    expect(info, label(cell)).toMatchObject({ width, height, hasAudio: applied.generateAudio });
    expect(Math.abs((info?.durationSeconds ?? 0) - seconds), label(cell)).toBeLessThan(0.1);
  }
}

async function runRefused(shape: Shape, cell: CapabilityCell): Promise<'refused' | 'no wire field'> {
  if (cell.check.ok) throw new Error('not a refused cell');
  expect(cell.check.message, label(cell)).toContain(`(${shape})`);
  const { field } = cell.check;
  const provider = providers[shape];
  const before = simulator.stats.submits;
  let outcome: unknown;
  try {
    outcome = await provider.submit(upstreamRequest(cell.request, await sourceFor(shape, cell)));
  } catch (error) {
    outcome = error;
  }
  if (typeof outcome === 'string') {
    // Accepted: only where the upstream has no field to be told about it.
    expect(noWireField[shape], `${shape} accepted ${label(cell)}: ${cell.check.message}`).toContain(field);
    return 'no wire field';
  }
  expect(simulator.stats.submits, label(cell)).toBeGreaterThan(before);
  expect(outcome, label(cell)).toBeInstanceOf(Error);
  expect(outcome, label(cell)).not.toBeInstanceOf(UpstreamUnavailableError);
  const message = (outcome as Error).message;
  if (shape === 'kie') expect(message, label(cell)).toMatch(/\(code 422\)$/);
  else expect(message, label(cell)).toMatch(/answered HTTP 400: /);
  return 'refused';
}

/** Runs `work` over `items`, a few at a time (the simulator serves them side by side). */
async function inBatches<T, R>(items: T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    results.push(...(await Promise.all(items.slice(i, i + size).map(work))));
  }
  return results;
}

describe.each(shapes)('capability table, %s shape, through the provider against the simulator', (shape) => {
  const cells = capabilityCells([shape]);
  const allowed = cells.filter((c) => c.check.ok);
  const refused = cells.filter((c) => !c.check.ok);

  it(`makes every allowed cell (${allowed.length}) at its real size, length and sound`, async () => {
    expect(allowed.length).toBeGreaterThan(20);
    await inBatches(allowed, 6, (cell) => runAllowed(shape, cell));
  }, 120_000);

  it(`refuses every refused cell (${refused.length}), and so does the simulator when it can be told`, async () => {
    expect(refused.length).toBeGreaterThan(20);
    const outcomes = await inBatches(refused, 6, (cell) => runRefused(shape, cell));
    // The upstream refused most of them itself: the table is not stricter than the upstream by accident.
    expect(outcomes.filter((o) => o === 'refused').length).toBeGreaterThan(outcomes.length / 2);
  }, 120_000);
});

describe('the Veo 3.1 options on the wire, in each upstream’s own names', () => {
  const lastSubmit = (shape: 'vertex' | 'gemini' | 'kie') => {
    const record = simulator.requests.filter((r) => r.shape === shape && r.kind === 'submit').at(-1);
    return record as { path: string; body: Record<string, unknown> };
  };
  const options = {
    resolution: '1080p',
    durationSeconds: 8,
    negativePrompt: 'rain, blur',
    sampleCount: 1,
  } as const;

  it('vertex: parameters.resolution, durationSeconds, generateAudio, negativePrompt, personGeneration, sampleCount, seed', async () => {
    await providers.vertex.submit({
      ...upstreamRequest(base),
      ...options,
      generateAudio: false,
      personGeneration: 'dont_allow',
      sampleCount: 2,
    });
    expect(lastSubmit('vertex').body.parameters).toEqual({
      aspectRatio: '16:9',
      resolution: '1080p',
      durationSeconds: 8,
      generateAudio: false,
      negativePrompt: 'rain, blur',
      personGeneration: 'dont_allow',
      sampleCount: 2,
      seed: 12345,
    });
    await providers.vertex.submit({ ...upstreamRequest({ ...base, model: 'veo3_lite' }) });
    expect(lastSubmit('vertex').path).toContain('/models/veo-3.1-lite-generate-001:predictLongRunning');
  });

  it('gemini: parameters.resolution (4k too), durationSeconds, negativePrompt, personGeneration, sampleCount; no seed, no generateAudio', async () => {
    await providers.gemini.submit({
      ...upstreamRequest(base),
      ...options,
      resolution: '4k',
      personGeneration: 'allow_all',
    });
    const { path, body } = lastSubmit('gemini');
    expect(path).toBe('/v1beta/models/veo-3.1-generate-preview:predictLongRunning');
    expect(body.parameters).toEqual({
      aspectRatio: '16:9',
      resolution: '4k',
      durationSeconds: 8,
      negativePrompt: 'rain, blur',
      personGeneration: 'allow_all',
      sampleCount: 1,
    });
    await providers.gemini.submit({ ...upstreamRequest({ ...base, model: 'veo3_lite' }) });
    expect(lastSubmit('gemini').path).toBe('/v1beta/models/veo-3.1-lite-generate-preview:predictLongRunning');

    // Told anyway, the simulator refuses generateAudio as the Gemini API does (why the core refuses it).
    const response = await fetch(
      `${simulator.url}/v1beta/models/veo-3.1-generate-preview:predictLongRunning`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-goog-api-key': 'gemini-key' },
        body: JSON.stringify({ instances: [{ prompt: 'x' }], parameters: { generateAudio: false } }),
      },
    );
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain(
      'generateAudio',
    );
  });

  it('kie: model veo3_lite, resolution and duration, only when asked', async () => {
    await providers.kie.submit({ ...upstreamRequest({ ...base, model: 'veo3_lite' }), ...options });
    expect(lastSubmit('kie').body).toMatchObject({
      model: 'veo3_lite',
      aspectRatio: '16:9',
      resolution: '1080p',
      duration: 8,
      seeds: 12345,
    });
    await providers.kie.submit(upstreamRequest(base));
    const plain = lastSubmit('kie').body;
    expect(plain).not.toHaveProperty('resolution');
    expect(plain).not.toHaveProperty('duration');
  });
});
