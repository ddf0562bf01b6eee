import {
  type Condition,
  capabilityModels,
  capabilityTable,
  durations,
  EXTENSION_SECONDS,
  generationModes,
  personGenerationValues,
  resolutions,
  type UpstreamShape,
  upstreamShapes,
  videoAspectRatios,
} from './capabilities';
import { type CapabilityCheck, type CapabilityRequest, checkCapabilities } from './capability-check';

/** The capability table walked cell by cell, and rendered for the README (both read the one table). */

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
