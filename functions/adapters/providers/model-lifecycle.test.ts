import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeServiceAccount } from '../../../simulator/fixtures';
import { type Simulator, startSimulator } from '../../../simulator/server';
import { failureMessages, ModelNotFoundError } from '../../core/errors';
import type { UpstreamRequest } from '../../core/ports';
import { createProvider } from './index';

/**
 * A retired model id (the simulator's retiredModels answers it as each upstream does: Google 404
 * NOT_FOUND, kie 422) surfaces as ModelNotFoundError naming the id, and the task's message names the
 * setting to change.
 */
let simulator: Simulator;
const account = fakeServiceAccount();

beforeAll(async () => {
  simulator = await startSimulator({
    latencyMs: 0,
    apiKey: 'gemini-key',
    kieApiKey: 'kie-key',
    vertexServiceAccount: account,
    retiredModels: ['veo-3.1-generate-preview', 'veo-3.1-fast-generate-001', 'veo3_lite'],
  });
});
afterAll(async () => {
  await simulator?.stop();
});

const request = (model: UpstreamRequest['model']): UpstreamRequest => ({
  taskId: 'veo_t',
  prompt: 'a cat',
  model,
  generationType: 'TEXT_2_VIDEO',
  aspectRatio: '16:9',
  seed: 12345,
  imageUrls: [],
  images: [],
});

describe('an upstream that does not know the model', () => {
  it.each([
    ['gemini', 'veo3', 'veo-3.1-generate-preview', 'VEO3_MODEL_ID (context veo3ModelId)'],
    ['vertex', 'veo3_fast', 'veo-3.1-fast-generate-001', 'VEO3_FAST_MODEL_ID (context veo3FastModelId)'],
    ['kie', 'veo3_lite', 'veo3_lite', 'VEO3_LITE_MODEL_ID (context veo3LiteModelId)'],
  ] as const)('%s: %s → %s, set %s', async (provider, model, modelId, setting) => {
    const upstream = createProvider({
      provider,
      baseUrl: simulator.url,
      apiKey: provider === 'kie' ? 'kie-key' : 'gemini-key',
      serviceAccountKey: account.key,
      region: 'us-central1',
      tokenUrl: `${simulator.url}/token`,
    });
    const error = await upstream.submit(request(model)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect(failureMessages.modelNotFound(error as ModelNotFoundError)).toBe(
      `Generation failed: the upstream does not know model ${modelId}; set ${setting}`,
    );
  });

  it('still submits a model the upstream knows', async () => {
    const gemini = createProvider({ provider: 'gemini', baseUrl: simulator.url, apiKey: 'gemini-key' });
    await expect(gemini.submit(request('veo3_fast'))).resolves.toMatch(/\S/);
  });
});
