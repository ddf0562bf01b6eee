import { describe, expect, it } from 'vitest';
import { addKey, seedTask, testWorld, thrown } from '../../../test/support/test-deps';
import { recordInfo } from './record-info';
import { submitExtension, submitTask } from './submit';

/** Issue 15: Veo 3.1's options, judged against the deployment's upstream before anything is written. */
describe('submit with Veo 3.1 options', () => {
  it("takes kie.ai's 2026 fields and records what was asked", async () => {
    const world = testWorld({ providerName: 'kie' });
    const key = await addKey(world, 1000);
    const body = {
      prompt: 'a cat',
      model: 'veo3_lite',
      aspect_ratio: '9:16',
      resolution: '1080p',
      duration: 8,
    };
    const { taskId } = await submitTask(world.deps, key, body);

    const task = await world.tasks.get(taskId);
    expect(task?.request).toMatchObject({ model: 'veo3_lite', aspectRatio: '9:16', resolution: '1080p' });
    expect(task?.aspectRatio).toBe('9:16');
    expect(task?.asked).toEqual({
      resolution: '1080p',
      durationSeconds: 8,
      generateAudio: true,
      sampleCount: 1,
    });
    // Lite 1080p: Fast's 8 s 720p price (60) × 0.08 / 0.10.
    expect(task?.credits).toBe(48);
    expect(JSON.parse(task?.paramJson ?? '')).toEqual(body);
    const record = await recordInfo(world.deps, key, { taskId });
    expect(record).toMatchObject({ resolution: '1080p', duration: 8, generateAudio: true, sampleCount: 1 });
    expect(record.notApplied).toEqual([]);
  });

  it.each([
    ['kie', { resolution: '4k', model: 'veo3_lite' }, 'resolution 4k is not available on veo3_lite (kie)'],
    ['gemini', { resolution: '1080p', duration: 6 }, 'duration 6 is not available on veo3_fast (gemini)'],
    ['gemini', { generateAudio: false }, 'generateAudio false is not available on veo3_fast (gemini)'],
    ['kie', { negativePrompt: 'blur' }, 'negativePrompt is not available on veo3_fast (kie)'],
    ['gemini', { sampleCount: 2 }, 'sampleCount 2 is not available on veo3_fast (gemini)'],
    ['vertex', { resolution: '4k' }, 'resolution 4k is not available on veo3_fast (vertex)'],
    [
      'kie',
      { aspectRatio: '16:9', aspect_ratio: '9:16' },
      'aspect_ratio (9:16) differs from aspectRatio (16:9)',
    ],
    ['kie', { duration: 4, durationSeconds: 8 }, 'duration (4) differs from durationSeconds (8)'],
  ])('on %s refuses %j with 422 "%s", writing and charging nothing', async (provider, fields, message) => {
    const world = testWorld({ providerName: provider });
    const key = await addKey(world, 1000);
    const error = await thrown(submitTask(world.deps, key, { prompt: 'a cat', ...fields }));
    expect([error.code, error.message]).toEqual([422, expect.stringContaining(message)]);
    expect(world.tasks.tasks.size).toBe(0);
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(1000);
  });

  it('records seeds as not applied on the Gemini API, and charges each video of a Vertex task', async () => {
    const gemini = testWorld({ providerName: 'gemini' });
    const key = await addKey(gemini, 1000);
    const { taskId } = await submitTask(gemini.deps, key, { prompt: 'a cat', seeds: 12345 });
    expect((await recordInfo(gemini.deps, key, { taskId })).notApplied).toEqual(['seeds']);

    const vertex = testWorld({ providerName: 'vertex' });
    const payer = await addKey(vertex, 1000);
    const two = await submitTask(vertex.deps, payer, { prompt: 'a cat', sampleCount: 2, durationSeconds: 4 });
    // veo3_fast: 60 credits per 8 s → 4 s × 2 videos = 60.
    expect((await vertex.tasks.get(two.taskId))?.credits).toBe(60);
    expect((await vertex.apiKeys.get(payer.keyHash))?.credits).toBe(940);
  });

  it('refuses an extension of a Lite video and one asked at 1080p, naming the field', async () => {
    const world = testWorld({ providerName: 'gemini' });
    const key = await addKey(world, 1000);
    const source = await seedTask(world, key, 'succeeded');
    const before = (await world.apiKeys.get(key.keyHash))?.credits;
    for (const [fields, message] of [
      [{ resolution: '1080p' }, 'resolution 1080p is not available on veo3_fast (gemini)'],
      [{ model: 'veo3_lite' }, 'model must be one of fast, quality, veo3_fast, veo3'],
    ] as const) {
      const error = await thrown(
        submitExtension(world.deps, key, { taskId: source.taskId, prompt: 'on', ...fields }),
      );
      expect([error.code, error.message]).toEqual([422, expect.stringContaining(message)]);
    }
    expect(world.tasks.tasks.size).toBe(1);
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(before);
  });
});
