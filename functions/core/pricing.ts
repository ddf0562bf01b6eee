import {
  type CapabilityModel,
  capabilityModels,
  publishedUsdPerSecond,
  type Resolution,
  resolutions,
} from './capabilities';

/**
 * What a task costs: credits per second of video by model × resolution × audio, times its seconds and
 * its number of videos. The default table follows Google's published price RATIOS (capabilities.ts,
 * `publishedUsdPerSecond`), scaled so an 8-second 720p veo3 / veo3_fast task costs exactly the
 * deployment's PRICE_VEO3 / PRICE_VEO3_FAST; PRICE_TABLE (config) overrides any cell.
 *
 * Choices where the sources are silent:
 *   - Lite's 720p is priced against Fast's (Google: $0.05 vs $0.10 per second), as Lite has no own price.
 *   - Lite has no 4K; its 4K cell (never charged: the capability table refuses it) follows Fast's 4K/1080p ratio.
 *   - Audio off: the sources quoted in issue 15 publish no audio-off price, so it costs what audio on
 *     costs (never less than the upstream charges us); PRICE_TABLE may set `silent` lower.
 *   - An extension is charged as an 8-second 720p generation of its model (as before, and as kie.ai does).
 */

/** The seconds a task's price counts by when priced as a generation of the model's base length. */
export const PRICED_BASE_SECONDS = 8;

/** Models whose 8 s 720p price the deployment sets (PRICE_VEO3, PRICE_VEO3_FAST). */
export type PricedModel = 'veo3' | 'veo3_fast';

export interface SecondPrice {
  /** Credits per second with audio. */
  audio: number;
  /** Credits per second without audio. */
  silent: number;
}

export type PriceTable = Record<CapabilityModel, Record<Resolution, SecondPrice>>;

/** PRICE_TABLE's shape: any cell may be given; the rest come from the default table. */
export type PriceOverrides = Partial<
  Record<CapabilityModel, Partial<Record<Resolution, Partial<SecondPrice>>>>
>;

export interface PriceSettings {
  prices: Record<PricedModel, number>;
  priceTable?: PriceOverrides;
}

const usd = (model: CapabilityModel, resolution: Resolution): number => {
  const row = publishedUsdPerSecond[model];
  const price = row[resolution];
  if (price !== undefined) return price;
  // Lite's 4K (not offered): Fast's ratio of 4K to 1080p over Lite's 1080p.
  const fast = publishedUsdPerSecond.veo3_fast;
  return (row['1080p'] ?? 0) * ((fast['4k'] ?? 0) / (fast['1080p'] ?? 1));
};

/** The table in force: the default ratios scaled to the deployment's prices, then PRICE_TABLE's cells. */
export function priceTable(settings: PriceSettings): PriceTable {
  const perUsd: Record<CapabilityModel, number> = {
    veo3: settings.prices.veo3 / PRICED_BASE_SECONDS / usd('veo3', '720p'),
    veo3_fast: settings.prices.veo3_fast / PRICED_BASE_SECONDS / usd('veo3_fast', '720p'),
    veo3_lite: settings.prices.veo3_fast / PRICED_BASE_SECONDS / usd('veo3_fast', '720p'),
  };
  const table = {} as PriceTable;
  for (const model of capabilityModels) {
    const row = {} as Record<Resolution, SecondPrice>;
    for (const resolution of resolutions) {
      const base = usd(model, resolution) * perUsd[model];
      const override = settings.priceTable?.[model]?.[resolution];
      const audio = override?.audio ?? base;
      row[resolution] = { audio, silent: override?.silent ?? (override?.audio !== undefined ? audio : base) };
    }
    table[model] = row;
  }
  return table;
}

/** What is priced: the video(s) a task makes. */
export interface PricedVideo {
  model: CapabilityModel;
  resolution: Resolution;
  durationSeconds: number;
  generateAudio: boolean;
  sampleCount: number;
}

/** Whole credits for the task: per-second price × seconds × videos, rounded up. */
export function taskCredits(settings: PriceSettings, video: PricedVideo): number {
  const cell = priceTable(settings)[video.model][video.resolution];
  const perSecond = video.generateAudio ? cell.audio : cell.silent;
  // Rounded to a millionth first, so 7.5 × 8 is 60 and not 60.000000001 rounded up to 61.
  const exact = Math.round(perSecond * video.durationSeconds * video.sampleCount * 1e6) / 1e6;
  return Math.ceil(exact);
}
