import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { capabilityTable, EXTENSION_SECONDS, upstreamShapes } from './capabilities';
import { capabilityCells, capabilityMarkdown } from './capability-cells';
import { capabilityRequestOf, checkCapabilities } from './capability-check';
import type { UpstreamRequest } from './ports';

const t2v = { model: 'veo3', mode: 'TEXT_2_VIDEO', aspectRatio: '16:9' } as const;

describe('checkCapabilities', () => {
  it('fills in the defaults: 720p, 8 s, audio, one sample', () => {
    const check = checkCapabilities(t2v, 'vertex');
    expect(check).toEqual({
      ok: true,
      notApplied: [],
      applied: {
        model: 'veo3',
        upstreamModel: 'veo-3.1-generate-001',
        mode: 'TEXT_2_VIDEO',
        aspectRatio: '16:9',
        resolution: '720p',
        durationSeconds: 8,
        generateAudio: true,
        sampleCount: 1,
      },
    });
  });

  it('names the field and the upstream when it refuses', () => {
    expect(checkCapabilities({ ...t2v, model: 'veo3_lite', resolution: '4k' }, 'gemini')).toMatchObject({
      ok: false,
      field: 'resolution',
      message: 'resolution 4k is not available on veo3_lite (gemini)',
    });
    expect(checkCapabilities({ ...t2v, resolution: '4k' }, 'vertex')).toMatchObject({
      ok: false,
      field: 'resolution',
      message: expect.stringContaining('(vertex)'),
    });
  });

  it('needs 8 seconds for 1080p, 4k, reference images and a last frame on Google', () => {
    for (const request of [
      { ...t2v, resolution: '1080p', durationSeconds: 6 },
      { ...t2v, resolution: '4k', durationSeconds: 4 },
      { ...t2v, model: 'veo3_fast', mode: 'REFERENCE_2_VIDEO', imageCount: 1, durationSeconds: 6 },
      { ...t2v, mode: 'FIRST_AND_LAST_FRAMES_2_VIDEO', imageCount: 2, durationSeconds: 4 },
    ] as const) {
      const check = checkCapabilities(request, 'gemini');
      expect(check).toMatchObject({ ok: false, field: 'duration' });
      expect(check.ok || check.message).toMatch(
        /^duration \d is not available on veo3(_fast)? \(gemini\): .*8 seconds$/,
      );
    }
    expect(checkCapabilities({ ...t2v, durationSeconds: 4 }, 'gemini')).toMatchObject({ ok: true });
    expect(
      checkCapabilities(
        { ...t2v, mode: 'FIRST_AND_LAST_FRAMES_2_VIDEO', imageCount: 1, durationSeconds: 4 },
        'gemini',
      ),
    ).toMatchObject({ ok: true });
  });

  it('refuses reference images in 9:16 on Vertex only', () => {
    const request = { ...t2v, mode: 'REFERENCE_2_VIDEO', aspectRatio: '9:16', imageCount: 1 } as const;
    expect(checkCapabilities(request, 'vertex')).toMatchObject({ ok: false, field: 'aspectRatio' });
    expect(checkCapabilities(request, 'gemini')).toMatchObject({ ok: true });
    expect(checkCapabilities({ ...request, model: 'veo3_lite' }, 'kie')).toMatchObject({ ok: true });
    expect(checkCapabilities(request, 'kie')).toMatchObject({ ok: false, field: 'generationType' });
  });

  it('extends at 720p, adding 7 seconds; not on Lite', () => {
    const extend = { ...t2v, mode: 'EXTEND' } as const;
    expect(checkCapabilities(extend, 'gemini')).toMatchObject({
      ok: true,
      applied: { resolution: '720p', durationSeconds: EXTENSION_SECONDS },
    });
    expect(checkCapabilities({ ...extend, resolution: '1080p' }, 'vertex')).toMatchObject({
      ok: false,
      field: 'resolution',
    });
    expect(checkCapabilities({ ...extend, durationSeconds: 8 }, 'vertex')).toMatchObject({
      ok: false,
      field: 'duration',
    });
    expect(checkCapabilities({ ...extend, model: 'veo3_lite' }, 'kie')).toMatchObject({
      ok: false,
      field: 'model',
      message: 'extension is not available on veo3_lite (kie)',
    });
  });

  it('drops the seed on the Gemini API, recorded as not applied; passes it on Vertex and kie', () => {
    expect(checkCapabilities({ ...t2v, seed: 12345 }, 'gemini')).toMatchObject({
      ok: true,
      notApplied: ['seeds'],
    });
    const vertex = checkCapabilities({ ...t2v, seed: 12345 }, 'vertex');
    expect(vertex).toMatchObject({ ok: true, notApplied: [], applied: { seed: 12345 } });
  });

  it('refuses what the upstream cannot pass on: audio off, negative prompt, person policy, samples', () => {
    expect(checkCapabilities({ ...t2v, generateAudio: false }, 'gemini')).toMatchObject({
      ok: false,
      field: 'generateAudio',
    });
    expect(checkCapabilities({ ...t2v, generateAudio: false }, 'vertex')).toMatchObject({
      ok: true,
      applied: { generateAudio: false },
    });
    expect(checkCapabilities({ ...t2v, negativePrompt: 'rain' }, 'kie')).toMatchObject({
      ok: false,
      field: 'negativePrompt',
      message: 'negativePrompt is not available on veo3 (kie)',
    });
    expect(checkCapabilities({ ...t2v, personGeneration: 'dont_allow' }, 'gemini')).toMatchObject({
      ok: false,
      field: 'personGeneration',
    });
    expect(checkCapabilities({ ...t2v, sampleCount: 4 }, 'vertex')).toMatchObject({ ok: true });
    expect(checkCapabilities({ ...t2v, sampleCount: 2 }, 'gemini')).toMatchObject({
      ok: false,
      field: 'sampleCount',
    });
  });
});

describe('capabilityCells', () => {
  const cells = capabilityCells();

  it('covers every upstream and model, with allowed and refused cells', () => {
    for (const upstream of upstreamShapes) {
      for (const model of Object.keys(capabilityTable[upstream].models)) {
        const mine = cells.filter((c) => c.upstream === upstream && c.request.model === model);
        expect(mine.some((c) => c.check.ok)).toBe(true);
        expect(mine.some((c) => !c.check.ok)).toBe(true);
      }
    }
  });

  it('every rule of the table refuses at least one cell, and has a source', () => {
    for (const upstream of upstreamShapes) {
      for (const rule of capabilityTable[upstream].rules) {
        const refused = cells.filter(
          (c) => c.upstream === upstream && !c.check.ok && c.check.rule === rule.id,
        );
        expect(refused.length, `${upstream} ${rule.id}`).toBeGreaterThan(0);
        expect(rule.source).toMatch(/^https:\/\//);
      }
    }
  });

  it('every refusal names its field and its upstream', () => {
    for (const cell of cells) {
      if (cell.check.ok) continue;
      expect(cell.check.message).toContain(`(${cell.upstream})`);
      expect(
        cell.check.message.startsWith(cell.check.field) ||
          cell.check.field === 'model' ||
          cell.check.field === 'imageUrls',
      ).toBe(true);
    }
  });
});

describe('capabilityMarkdown', () => {
  it('renders every upstream and model, and every rule with its source, from the data', () => {
    const markdown = capabilityMarkdown();
    for (const upstream of upstreamShapes) {
      for (const [model, cell] of Object.entries(capabilityTable[upstream].models)) {
        expect(markdown).toContain(`| ${upstream} | ${model} | \`${cell.upstreamModel}\` |`);
      }
      for (const rule of capabilityTable[upstream].rules) {
        expect(markdown).toContain(`| ${upstream} | ${rule.id} |`);
      }
    }
  });
});

describe('capabilityRequestOf', () => {
  it('reads the worker’s request: an extension is EXTEND, images count, options carried over', () => {
    const request: UpstreamRequest = {
      taskId: 't',
      prompt: 'p',
      model: 'veo3_lite',
      generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO',
      aspectRatio: '9:16',
      seed: 12345,
      imageUrls: ['https://a/1.png', 'https://a/2.png'],
      images: [],
      resolution: '1080p',
      durationSeconds: 8,
    };
    expect(capabilityRequestOf(request)).toEqual({
      model: 'veo3_lite',
      mode: 'FIRST_AND_LAST_FRAMES_2_VIDEO',
      aspectRatio: '9:16',
      imageCount: 2,
      seed: 12345,
      resolution: '1080p',
      durationSeconds: 8,
    });
    // Lite takes no last frame on the Gemini API; kie takes one.
    expect(checkCapabilities(capabilityRequestOf(request), 'gemini')).toMatchObject({
      ok: false,
      field: 'imageUrls',
    });
    expect(checkCapabilities(capabilityRequestOf(request), 'kie')).toMatchObject({ ok: true });
    const extend = {
      ...request,
      extend: { video: { bytes: Buffer.alloc(0), mimeType: 'video/mp4' as const } },
    };
    expect(capabilityRequestOf(extend)).toMatchObject({ mode: 'EXTEND', imageCount: 0 });
  });
});

describe('the README', () => {
  it('shows the capability table exactly as capabilityMarkdown() renders it', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const block = /<!-- capabilities:begin -->\n([\s\S]*?)\n<!-- capabilities:end -->/.exec(readme)?.[1];
    expect(block).toBe(capabilityMarkdown().trimEnd());
  });
});
