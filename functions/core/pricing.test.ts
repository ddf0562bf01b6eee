import { describe, expect, it } from 'vitest';
import { addKey, testWorld } from '../../test/support/test-deps';
import { submitTask } from './api/submit';
import { capabilityModels, durations, resolutions } from './capabilities';
import { priceTable, taskCredits } from './pricing';
import { moveTask } from './task/move';

describe('per-second pricing', () => {
  const settings = { prices: { veo3: 400, veo3_fast: 60 } };

  it("keeps today's 8 s 720p prices and follows Google's published ratios", () => {
    const table = priceTable(settings);
    expect(taskCredits(settings, video('veo3', '720p', 8))).toBe(400);
    expect(taskCredits(settings, video('veo3_fast', '720p', 8))).toBe(60);
    // Standard $0.40 / $0.40 / $0.60; Fast $0.10 / $0.12 / $0.30; Lite $0.05 / $0.08 against Fast.
    expect(table.veo3['4k'].audio / table.veo3['720p'].audio).toBeCloseTo(1.5);
    expect(table.veo3['1080p'].audio).toBeCloseTo(table.veo3['720p'].audio);
    expect(table.veo3_fast['1080p'].audio / table.veo3_fast['720p'].audio).toBeCloseTo(1.2);
    expect(table.veo3_fast['4k'].audio / table.veo3_fast['720p'].audio).toBeCloseTo(3);
    expect(table.veo3_lite['720p'].audio / table.veo3_fast['720p'].audio).toBeCloseTo(0.5);
    expect(table.veo3_lite['1080p'].audio / table.veo3_fast['720p'].audio).toBeCloseTo(0.8);
    expect(taskCredits(settings, { ...video('veo3_fast', '720p', 8), sampleCount: 3 })).toBe(180);
  });

  it('takes PRICE_TABLE cells over the defaults, the rest unchanged', () => {
    const table = priceTable({ ...settings, priceTable: { veo3: { '4k': { audio: 90, silent: 70 } } } });
    expect(table.veo3['4k']).toEqual({ audio: 90, silent: 70 });
    expect(table.veo3['720p']).toEqual(priceTable(settings).veo3['720p']);
    expect(
      taskCredits(
        { ...settings, priceTable: { veo3: { '4k': { audio: 90, silent: 70 } } } },
        {
          ...video('veo3', '4k', 8),
          generateAudio: false,
        },
      ),
    ).toBe(560);
  });

  // Every model × resolution × duration × audio a deployment could be asked for, on Vertex (the only
  // upstream that takes audio off) and kie: the charge equals the table and a failure refunds all of it.
  const combos = capabilityModels.flatMap((model) =>
    resolutions.flatMap((resolution) =>
      durations.flatMap((durationSeconds) =>
        [true, false].flatMap((generateAudio) =>
          (['vertex', 'kie'] as const).map((upstream) => ({
            upstream,
            model,
            resolution,
            durationSeconds,
            generateAudio,
          })),
        ),
      ),
    ),
  );

  it(`charges the table and refunds the charge on failure (${combos.length} combinations)`, async () => {
    let charged = 0;
    for (const { upstream, ...asked } of combos) {
      const world = testWorld({ providerName: upstream, prices: settings.prices });
      const key = await addKey(world, 100_000);
      const body = {
        prompt: 'a cat',
        model: asked.model,
        resolution: asked.resolution,
        duration: asked.durationSeconds,
        generateAudio: asked.generateAudio,
      };
      const submitted = await submitTask(world.deps, key, body).catch((error: { code: number }) => error);
      if (!('taskId' in submitted)) {
        // Refused by the capability table (e.g. 4K on Vertex, audio off on kie): nothing charged.
        expect(submitted.code).toBe(422);
        expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(100_000);
        continue;
      }
      const expected = taskCredits(settings, { ...asked, sampleCount: 1 });
      const task = await world.tasks.get(submitted.taskId);
      expect(task?.credits).toBe(expected);
      expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(100_000 - expected);
      if (task)
        await moveTask(world.deps, task, 'failed', { errorCode: 501, errorMessage: 'upstream failed' });
      expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(100_000);
      charged++;
    }
    // Most combinations are honoured by one of the two upstreams.
    expect(charged).toBeGreaterThan(combos.length / 3);
  });
});

function video(
  model: 'veo3' | 'veo3_fast' | 'veo3_lite',
  resolution: '720p' | '1080p' | '4k',
  seconds: number,
) {
  return { model, resolution, durationSeconds: seconds, generateAudio: true, sampleCount: 1 };
}
