import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CapabilityField,
  type Condition,
  capabilityTable,
  type UpstreamShape,
} from '../../functions/core/capabilities';
import { type CapabilityCell, capabilityCells } from '../../functions/core/capability-cells';
import type { CapabilityRequest } from '../../functions/core/capability-check';
import { type ProviderName, providerNames } from '../../functions/core/ports';
import { extendRequestSchema, generateRequestSchema } from '../../functions/core/schema';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { mp4Info } from '../../simulator/mp4-info';
import { apiClient, download, localDeps, startImageServer, taskCount } from './support';

/**
 * Every rule of the capability table through the whole local stack's HTTP API: for each, one request
 * the upstream refuses (422 naming the field and the upstream, nothing written or charged) and one it
 * honours (accepted and charged; run to the end, its downloaded MP4 really has the asked size and
 * length). Nothing here names a rule: the cases are read from the table (core/capabilities.ts), so a
 * new rule is covered without new code, and a rule no cell of capabilityCells() exercises fails here.
 *
 * One stack, so one upstream: the shape with the most rules (the upstream cannot be switched per
 * request). The other shapes' rules are walked cell by cell, through each provider's real code against
 * the simulator, by the provider tests (provider-*.test.ts). Besides the `rules`, every other refusal the
 * table makes on this upstream (a model's modes, resolutions, last frame; audio; sampleCount) is one
 * more case, grouped by the field it names.
 */
const stackShapes = upstreamShapes().filter((shape): shape is UpstreamShape & ProviderName =>
  (providerNames as readonly string[]).includes(shape),
);
const upstream = stackShapes.reduce((most, shape) =>
  capabilityTable[shape].rules.length > capabilityTable[most].rules.length ? shape : most,
);

function upstreamShapes(): UpstreamShape[] {
  return Object.keys(capabilityTable) as UpstreamShape[];
}

/** A case: what is judged (a rule's id, or the field a model's or an option's limit names). */
interface RuleCase {
  id: string;
  refused: CapabilityCell;
  allowed: CapabilityCell;
}

/** The request's facts a rule's condition reads, as checkCapabilities computes them. */
function facts(request: CapabilityRequest): Record<keyof Condition, unknown> {
  const extend = request.mode === 'EXTEND';
  return {
    model: request.model,
    mode: request.mode,
    aspectRatio: request.aspectRatio,
    resolution: request.resolution ?? '720p',
    durationSeconds: request.durationSeconds ?? (extend ? 7 : 8),
    lastFrame: request.mode === 'FIRST_AND_LAST_FRAMES_2_VIDEO' && (request.imageCount ?? 1) >= 2,
    personGeneration: request.personGeneration,
  };
}

const holds = (condition: Condition, request: CapabilityRequest) =>
  (Object.entries(condition) as [keyof Condition, readonly unknown[]][]).every(([key, values]) =>
    values.includes(facts(request)[key]),
  );

/** Which request field a refusal's field is. */
const requestKey: Record<CapabilityField, keyof CapabilityRequest> = {
  model: 'model',
  generationType: 'mode',
  imageUrls: 'imageCount',
  aspectRatio: 'aspectRatio',
  resolution: 'resolution',
  duration: 'durationSeconds',
  generateAudio: 'generateAudio',
  negativePrompt: 'negativePrompt',
  personGeneration: 'personGeneration',
  sampleCount: 'sampleCount',
  seeds: 'seed',
};

let stack: RunningLocalStack;
let images: Awaited<ReturnType<typeof startImageServer>>;
let sourceTaskId: string;
let accepts: (cell: CapabilityCell) => boolean;

/** The HTTP request for a cell: generate, or extend of the finished 16:9 source task. */
function httpRequest(request: CapabilityRequest): { path: string; body: Record<string, unknown> } {
  const options: Record<string, unknown> = {
    resolution: request.resolution,
    generateAudio: request.generateAudio,
    negativePrompt: request.negativePrompt,
    personGeneration: request.personGeneration,
    sampleCount: request.sampleCount,
    seeds: request.seed,
  };
  if (request.mode === 'EXTEND') {
    const body = { taskId: sourceTaskId, prompt: 'the scene goes on', model: request.model, ...options };
    return { path: '/api/v1/veo/extend', body: defined(body) };
  }
  const [width, height] = request.aspectRatio === '9:16' ? [720, 1280] : [1280, 720];
  const body = {
    prompt: `a ${request.model} ${request.mode} test`,
    model: request.model,
    generationType: request.mode,
    aspect_ratio: request.aspectRatio,
    duration: request.durationSeconds,
    imageUrls: Array.from({ length: request.imageCount ?? 0 }, () => `${images.url}/${width}x${height}.png`),
    ...options,
  };
  return { path: '/api/v1/veo/generate', body: defined(body) };
}

function defined(body: Record<string, unknown>) {
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}

/** One refused and one allowed cell per rule and per other refusal the table makes on this upstream. */
function ruleCases(): RuleCase[] {
  const cells = capabilityCells([upstream]).filter(accepts);
  const ids = [
    ...capabilityTable[upstream].rules.map((rule) => rule.id),
    ...new Set(cells.flatMap((cell) => (!cell.check.ok && !cell.check.rule ? [cell.check.field] : []))),
  ];
  return ids.map((id) => {
    const rule = capabilityTable[upstream].rules.find((r) => r.id === id);
    const refused = cells.find(
      (cell) =>
        !cell.check.ok && (rule ? cell.check.rule === id : !cell.check.rule && cell.check.field === id),
    );
    if (!refused) throw new Error(`no cell of capabilityCells() is refused by ${id} on ${upstream}`);
    // Allowed: under the rule's condition with its required fields given; for a field's limit, a
    // request of the same mode giving that field.
    const allowed = cells.find((cell) => {
      if (!cell.check.ok) return false;
      if (rule) {
        const known = facts(cell.request);
        return (
          holds(rule.when, cell.request) &&
          Object.keys(rule.require).every((key) => known[key as keyof Condition] !== undefined)
        );
      }
      const key = requestKey[id as CapabilityField];
      return cell.request.mode === refused.request.mode && cell.request[key] !== undefined;
    });
    if (!allowed) throw new Error(`no cell of capabilityCells() is allowed under ${id} on ${upstream}`);
    return { id, refused, allowed };
  });
}

const frame: Record<string, [number, number]> = {
  '720p': [1280, 720],
  '1080p': [1920, 1080],
  '4k': [3840, 2160],
};

let cases: RuleCase[] = [];
let sourceSeconds = 0;

beforeAll(async () => {
  [stack, images] = await Promise.all([
    startLocalStack({ port: 0, provider: upstream, simulatorLatencyMs: 100, pollIntervalSeconds: 1 }),
    startImageServer(),
  ]);
  const { settings } = await localDeps();
  const generate = generateRequestSchema(settings.urlPolicy);
  const extend = extendRequestSchema(settings.urlPolicy);
  // Cases the request schema itself refuses (before the table is asked) cannot show the table's answer;
  // an extension continues the one 16:9 source task.
  accepts = (cell) => {
    const { path, body } = httpRequest(cell.request);
    if (path.endsWith('/extend'))
      return cell.request.aspectRatio === '16:9' && extend.safeParse(body).success;
    return generate.safeParse(body).success;
  };
  const client = apiClient(stack);
  sourceTaskId = await client.generate({
    prompt: 'a beach at dawn',
    model: 'veo3_fast',
    aspectRatio: '16:9',
  });
  const source = await client.waitForRecord(sourceTaskId, undefined, 60_000);
  sourceSeconds = mp4Info(await download(source.response?.resultUrls[0]))?.durationSeconds ?? 0;
  cases = ruleCases();
}, 150_000);

afterAll(async () => {
  await Promise.all([stack?.stop(), images?.stop()]);
});

describe(`every rule of the capability table on the local stack (${upstream})`, () => {
  it('covers every rule of the upstream, and its other limits', () => {
    const ids = cases.map((c) => c.id);
    for (const rule of capabilityTable[upstream].rules) expect(ids).toContain(rule.id);
    expect(ids.length).toBeGreaterThan(capabilityTable[upstream].rules.length);
  });

  it("refuses each rule's refused request with 422 naming the field and the upstream; nothing written or charged", async () => {
    const client = apiClient(stack);
    const before = { credit: await client.credit(), tasks: await taskCount() };
    for (const { id, refused } of cases) {
      if (refused.check.ok) throw new Error('unreachable');
      const { path, body } = httpRequest(refused.request);
      const { status, json } = await client.call('POST', path, { body });
      expect([status, json.code, json.msg], `${id} ${JSON.stringify(body)}`).toEqual([
        422,
        422,
        refused.check.message,
      ]);
      expect(json.msg.startsWith(`${refused.check.field} `), id).toBe(true);
      expect(json.msg, id).toContain(`(${upstream})`);
    }
    expect({ credit: await client.credit(), tasks: await taskCount() }).toEqual(before);
  });

  it("accepts each rule's allowed request and charges it; run to the end, the video is what was asked", async () => {
    const client = apiClient(stack);
    // One task per distinct request: several rules may be honoured by the same one.
    const distinct = new Map<string, { ids: string[]; cell: CapabilityCell }>();
    for (const { id, allowed } of cases) {
      const key = JSON.stringify(allowed.request);
      distinct.set(key, { ids: [...(distinct.get(key)?.ids ?? []), id], cell: allowed });
    }
    const submitted: { ids: string[]; cell: CapabilityCell; taskId: string; charged: number }[] = [];
    for (const { ids, cell } of distinct.values()) {
      const { path, body } = httpRequest(cell.request);
      const before = await client.credit();
      const { json } = await client.call<{ taskId: string }>('POST', path, { body });
      expect([json.code, json.msg], `${ids} ${JSON.stringify(body)}`).toEqual([200, 'success']);
      submitted.push({ ids, cell, taskId: json.data.taskId, charged: before - (await client.credit()) });
    }

    // Each distinct video (resolution, ratio, length, extension or not) is run to the end and its real
    // file checked; a request that would make the same video as one already run is checked at submit
    // only (accepted, charged, record-info saying what will be made), which keeps the wall time small.
    const shapes = new Set<string>();
    await Promise.all(
      submitted.map(async ({ ids, cell, taskId, charged }) => {
        if (!cell.check.ok) throw new Error('unreachable');
        const { applied } = cell.check;
        const name = `${ids} ${JSON.stringify(cell.request)}`;
        expect(charged, name).toBeGreaterThan(0);
        const asked = {
          resolution: applied.resolution,
          duration: applied.durationSeconds,
          generateAudio: applied.generateAudio,
          sampleCount: applied.sampleCount,
          creditsConsumed: charged,
        };
        const shape = [
          applied.resolution,
          applied.aspectRatio,
          applied.durationSeconds,
          applied.mode === 'EXTEND',
        ];
        if (shapes.has(shape.join())) {
          expect(await client.record(taskId), name).toMatchObject(asked);
          return;
        }
        shapes.add(shape.join());
        const record = await client.waitForRecord(taskId, undefined, 90_000);
        expect(record, name).toMatchObject({ successFlag: 1, ...asked });
        // The real file: its frame and length are what the table said would be made.
        const info = mp4Info(await download(record.response?.resultUrls[0]));
        const [long, short] = frame[applied.resolution] ?? [0, 0];
        const size =
          applied.aspectRatio === '9:16' ? { width: short, height: long } : { width: long, height: short };
        expect(info, name).toMatchObject(size);
        const seconds =
          applied.mode === 'EXTEND' ? sourceSeconds + applied.durationSeconds : applied.durationSeconds;
        expect(info?.durationSeconds, name).toBeCloseTo(seconds, 0);
      }),
    );
    // At least the 8 s 720p source's extension, a 1080p video and a short clip were made for real.
    expect(shapes.size).toBeGreaterThanOrEqual(3);
    console.info(
      `capability rules: ${cases.length} cases, ${submitted.length} tasks, ${shapes.size} run to the end`,
    );
  }, 150_000);
});
