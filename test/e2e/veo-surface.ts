import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskCredits } from '../../functions/core/pricing';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { mp4Info } from '../../simulator/mp4-info';
import { apiClient, download, localDeps } from './support';

/**
 * Issue 15 end to end: a request written the way a current kie.ai client writes it (aspect_ratio,
 * resolution, duration, a 2026 model) is honoured by the whole local stack with the kie and the Gemini
 * API upstreams: the downloaded MP4 really is 1080×1920 and 8 s long, the charge is the pricing table's;
 * and requests the upstream cannot honour answer 422 naming the field, charging nothing.
 */
interface SurfaceCase {
  provider: 'kie' | 'gemini';
  model: 'veo3_lite' | 'veo3_fast';
  refused: [Record<string, unknown>, string][];
}

const cases: SurfaceCase[] = [
  {
    provider: 'kie',
    model: 'veo3_lite',
    refused: [
      [{ resolution: '4k' }, 'resolution 4k is not available on veo3_lite (kie)'],
      [{ negativePrompt: 'blurry' }, 'negativePrompt is not available on veo3_lite (kie)'],
      [{ generateAudio: false }, 'generateAudio false is not available on veo3_lite (kie)'],
      [{ duration: 6 }, 'duration 6 is not available on veo3_lite (kie): 1080p and 4k need 8 seconds'],
      [{ aspectRatio: '16:9' }, 'aspect_ratio (9:16) differs from aspectRatio (16:9)'],
    ],
  },
  {
    provider: 'gemini',
    model: 'veo3_fast',
    refused: [
      [{ duration: 4 }, 'duration 4 is not available on veo3_fast (gemini): 1080p and 4k need 8 seconds'],
      [{ sampleCount: 2 }, 'sampleCount 2 is not available on veo3_fast (gemini)'],
      [
        { personGeneration: 'dont_allow' },
        'personGeneration dont_allow is not available on veo3_fast (gemini)',
      ],
      [{ model: 'veo3_lite', resolution: '4k' }, 'resolution 4k is not available on veo3_lite (gemini)'],
      [{ durationSeconds: 6 }, 'duration (8) differs from durationSeconds (6)'],
    ],
  },
];

/**
 * One local stack per test file (the stack's clients are per process), so each provider has its own
 * file: this one runs kie, veo-surface-gemini.test.ts runs the Gemini API.
 */
export function describeSurface(which: SurfaceCase['provider']) {
  const surface = cases.find((c) => c.provider === which);
  if (!surface) throw new Error(`no case for ${which}`);
  describe(`the Veo 3.1 surface with provider ${which}`, () => surfaceTests(surface));
}

function surfaceTests({ provider, model, refused }: SurfaceCase) {
  let stack: RunningLocalStack;
  beforeAll(async () => {
    stack = await startLocalStack({ port: 0, provider, simulatorLatencyMs: 200, pollIntervalSeconds: 1 });
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const kieBody = {
    prompt: 'a lighthouse at dusk',
    model,
    aspect_ratio: '9:16',
    resolution: '1080p',
    duration: 8,
  };

  it("honours a kie.ai client's request: a real 1080×1920 8 s video, charged by the table", async () => {
    const client = apiClient(stack);
    const { settings } = await localDeps();
    const before = await client.credit();
    const taskId = await client.generate(kieBody);
    const price = taskCredits(settings, {
      model,
      resolution: '1080p',
      durationSeconds: 8,
      generateAudio: true,
      sampleCount: 1,
    });
    expect(await client.credit()).toBe(before - price);

    const record = await client.waitForRecord(taskId, undefined, 60_000);
    expect(record).toMatchObject({
      successFlag: 1,
      aspectRatio: '9:16',
      resolution: '1080p',
      duration: 8,
      model,
      creditsConsumed: price,
    });
    expect(record.response?.videos).toEqual([{ resolution: '1080p', made: 'native' }]);
    const info = mp4Info(await download(record.response?.resultUrls[0]));
    expect(info).toMatchObject({ width: 1080, height: 1920 });
    expect(info?.durationSeconds).toBeCloseTo(8, 0);

    // Made at 1080p: get-1080p-video answers at once with that very file.
    const hd = await client.call<{ resultUrl: string }>(
      'GET',
      `/api/v1/veo/get-1080p-video?taskId=${taskId}`,
    );
    expect(hd.json.code).toBe(200);
    expect(mp4Info(await download(hd.json.data.resultUrl))).toMatchObject({ width: 1080, height: 1920 });
  }, 90_000);

  it.each(refused)('refuses %j with 422 naming the field, charging nothing', async (fields, message) => {
    const client = apiClient(stack);
    const before = await client.credit();
    const { status, json } = await client.call('POST', '/api/v1/veo/generate', {
      body: { ...kieBody, ...fields },
    });
    expect([status, json.code, json.msg]).toEqual([422, 422, expect.stringContaining(message)]);
    expect(await client.credit()).toBe(before);
  });
}
