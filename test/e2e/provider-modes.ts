import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../functions/core/api-keys';
import type { ProviderName } from '../../functions/core/ports';
import { generateRequestSchema } from '../../functions/core/schema';
import { newTask } from '../../functions/core/task';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import type { RecordedRequest } from '../../simulator/http';
import { apiClient, localDeps, pngSize, startImageServer } from './support';

/**
 * Every generation mode through one provider, end to end on the local stack: the worker's real provider
 * code talks to the simulator in that upstream's wire format, and the request bodies the simulator
 * received are checked against SPEC §4's mapping. Each provider runs in its own test file (one process
 * each), because the handlers read their configuration once, as in Lambda.
 */
type Shape = 'gemini' | 'vertex' | 'kie';

interface SubmitBody {
  instances?: {
    prompt?: string;
    image?: { bytesBase64Encoded: string; mimeType: string };
    lastFrame?: { bytesBase64Encoded: string; mimeType: string };
    referenceImages?: { image: { bytesBase64Encoded: string; mimeType: string }; referenceType: string }[];
  }[];
  parameters?: Record<string, unknown>;
  prompt?: string;
  imageUrls?: string[];
  model?: string;
  aspectRatio?: string;
  seeds?: number;
  generationType?: string;
  callBackUrl?: string;
}

const upstreamModels: Record<Shape, { veo3: string; veo3_fast: string }> = {
  gemini: { veo3: 'veo-3.1-generate-preview', veo3_fast: 'veo-3.1-fast-generate-preview' },
  vertex: { veo3: 'veo-3.1-generate-001', veo3_fast: 'veo-3.1-fast-generate-001' },
  kie: { veo3: 'veo3', veo3_fast: 'veo3_fast' },
};

export function describeProvider(provider: Exclude<ProviderName, 'simulator'>) {
  const shape: Shape = provider;
  let stack: RunningLocalStack;
  let images: Awaited<ReturnType<typeof startImageServer>>;
  let client: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    images = await startImageServer();
    stack = await startLocalStack({
      port: 0,
      provider,
      simulatorLatencyMs: 1200,
      pollIntervalSeconds: 1,
      // The file's ten or so submits are not about the quota: Gemini's published 10 per minute would make
      // the last ones wait out the window (test/e2e/quota-burst.test.ts and the pool test cover quotas).
      environment: { QUOTA_LIMIT: '100', QUOTA_WINDOW_SECONDS: '60' },
    });
    client = apiClient(stack);
  });
  afterAll(async () => {
    await stack?.stop();
    await images?.stop();
  });

  /** The submit the simulator received for this prompt, in this provider's shape. */
  function submitFor(prompt: string): { request: RecordedRequest; body: SubmitBody } {
    const request = stack.simulator.requests.find((r) => {
      const body = r.body as SubmitBody | undefined;
      return (
        r.shape === shape && r.kind === 'submit' && (body?.instances?.[0]?.prompt ?? body?.prompt) === prompt
      );
    });
    if (!request) throw new Error(`the simulator received no ${shape} submit for "${prompt}"`);
    return { request, body: request.body as SubmitBody };
  }

  async function generateAndWait(body: Record<string, unknown>) {
    const taskId = await client.generate(body);
    const record = await client.waitForRecord(taskId, (d) => d.successFlag !== 0, 20_000);
    expect(record, JSON.stringify(record)).toMatchObject({ successFlag: 1, state: 'success' });
    expect(record.response?.resultUrls).toHaveLength(1);
    return { taskId, record };
  }

  const decoded = (image: { bytesBase64Encoded: string } | undefined) =>
    pngSize(Buffer.from(image?.bytesBase64Encoded ?? '', 'base64'));

  // The modes run side by side, as a client's tasks would; the tests that count credits or inject
  // faults run alone after them.
  describe(`provider ${provider} on the local stack`, () => {
    it.concurrent('text to video, veo3, with the seed and model mapped', async () => {
      const prompt = `${provider}: a red fox running through snow`;
      const { record } = await generateAndWait({ prompt, model: 'veo3', seeds: 24680 });
      expect(record).toMatchObject({ aspectRatio: '16:9', seeds: 24680, promptSent: prompt });
      const { request, body } = submitFor(prompt);
      // The simulator checked the upstream's own credentials: key, service-account token or Bearer key.
      expect(request.auth).toBe('valid');
      if (shape === 'kie') {
        expect(body).toMatchObject({
          prompt,
          model: 'veo3',
          aspectRatio: '16:9',
          seeds: 24680,
          generationType: 'TEXT_2_VIDEO',
        });
        expect(body.callBackUrl).toContain('/internal/upstream-callback?taskId=');
        return;
      }
      expect(request.path).toContain(`/models/${upstreamModels[shape].veo3}:predictLongRunning`);
      expect(body.instances).toEqual([{ prompt }]);
      expect(body.parameters).toMatchObject({ aspectRatio: '16:9', durationSeconds: 8, sampleCount: 1 });
      // The Gemini API refuses seed and generateAudio; Vertex AI takes both.
      if (shape === 'vertex') expect(body.parameters).toMatchObject({ seed: 24680, generateAudio: true });
      else expect(body.parameters).not.toHaveProperty('seed');
    });

    it.concurrent('one image as the first frame', async () => {
      const prompt = `${provider}: the picture comes to life`;
      await generateAndWait({ prompt, imageUrls: [`${images.url}/1280x720.png`] });
      const { body } = submitFor(prompt);
      if (shape === 'kie') {
        expect(body).toMatchObject({
          imageUrls: [`${images.url}/1280x720.png`],
          generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO',
        });
        return;
      }
      expect(body.instances?.[0]?.image?.mimeType).toBe('image/png');
      expect(decoded(body.instances?.[0]?.image)).toEqual({ width: 1280, height: 720 });
      expect(body.instances?.[0]).not.toHaveProperty('lastFrame');
    });

    it.concurrent('first and last frames', async () => {
      const prompt = `${provider}: from dawn to dusk`;
      const urls = [`${images.url}/1280x720.png`, `${images.url}/1920x1080.png`];
      await generateAndWait({ prompt, imageUrls: urls, generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO' });
      const { body } = submitFor(prompt);
      if (shape === 'kie') {
        expect(body).toMatchObject({ imageUrls: urls, generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO' });
        return;
      }
      expect(decoded(body.instances?.[0]?.image)).toEqual({ width: 1280, height: 720 });
      expect(decoded(body.instances?.[0]?.lastFrame)).toEqual({ width: 1920, height: 1080 });
    });

    it.concurrent('reference images (veo3_fast, 16:9) as assets', async () => {
      const prompt = `${provider}: these three characters meet`;
      const urls = ['640x360', '640x480', '480x640'].map((s) => `${images.url}/${s}.png`);
      await generateAndWait({ prompt, imageUrls: urls, model: 'veo3_fast' });
      const { request, body } = submitFor(prompt);
      if (shape === 'kie') {
        expect(body).toMatchObject({
          imageUrls: urls,
          generationType: 'REFERENCE_2_VIDEO',
          model: 'veo3_fast',
        });
        return;
      }
      expect(request.path).toContain(`/models/${upstreamModels[shape].veo3_fast}:predictLongRunning`);
      const references = body.instances?.[0]?.referenceImages ?? [];
      expect(references.map((r) => r.referenceType)).toEqual(['asset', 'asset', 'asset']);
      expect(references.map((r) => pngSize(Buffer.from(r.image.bytesBase64Encoded, 'base64')))).toEqual([
        { width: 640, height: 360 },
        { width: 640, height: 480 },
        { width: 480, height: 640 },
      ]);
      expect(body.instances?.[0]).not.toHaveProperty('image');
    });

    it.concurrent('Auto aspect ratio from a portrait image: 9:16, the image centre-cropped to it', async () => {
      const prompt = `${provider}: a tall lighthouse`;
      const { record } = await generateAndWait({
        prompt,
        imageUrls: [`${images.url}/800x1000.png`],
        aspectRatio: 'Auto',
      });
      expect(record.aspectRatio).toBe('9:16');
      const { body } = submitFor(prompt);
      if (shape === 'kie') {
        expect(body.aspectRatio).toBe('9:16');
        return;
      }
      expect(body.parameters?.aspectRatio).toBe('9:16');
      expect(decoded(body.instances?.[0]?.image)).toEqual({ width: 562, height: 1000 });
    });

    it.concurrent('a Chinese prompt', async () => {
      const prompt = `一只狗在公园里玩耍 (${provider})`;
      const { record } = await generateAndWait({ prompt });
      // Offline there is no translation service: the prompt is sent as written (README).
      expect(record.promptSent).toBe(prompt);
      expect(submitFor(prompt).body).toBeDefined();
    });

    it('rides out injected upstream 429s and 503s', async () => {
      stack.simulator.injectFault({ status: 429, count: 2, shape, kind: 'submit' });
      stack.simulator.injectFault({ status: 503, count: 1, shape, kind: 'poll' });
      const prompt = `${provider}: storm at sea`;
      await generateAndWait({ prompt });
      expect(submitFor(prompt).body).toBeDefined();
    });

    it('ends an upstream content rejection as successFlag 3, code 422, refunded', async () => {
      const before = await client.credit();
      const taskId = await client.generate({ prompt: `${provider}: something [reject]` });
      const record = await client.waitForRecord(taskId);
      expect(record).toMatchObject({ successFlag: 3, errorCode: 422, creditsConsumed: 0 });
      expect(record.errorMessage).toMatch(/^Your request was rejected by Flow\(/);
      // kie's pointer to its other channels means nothing here.
      expect(record.errorMessage).not.toMatch(/fallback channels/);
      expect(await client.credit()).toBe(before);
    });

    it('never submits twice after a worker died between submitting and recording', async () => {
      // The state a crash leaves behind: the intent recorded, the outcome unknown, and the worker's lease
      // on it (its timeout) run out, so no live submit can still be holding it.
      const deps = await localDeps();
      const before = await client.credit();
      const prompt = `${provider}: interrupted`;
      const task = newTask({
        request: generateRequestSchema(deps.settings.urlPolicy).parse({ prompt }),
        paramJson: JSON.stringify({ prompt }),
        keyHash: hashApiKey(stack.apiKey),
        credits: 60,
        provider,
        now: Date.now(),
        retentionDays: 14,
        budgetSeconds: 600,
      });
      await deps.tasks.createCharged(
        {
          ...task,
          status: 'submitting',
          updatedAt: Date.now() - (deps.settings.workerTimeoutSeconds + 1) * 1000,
        },
        { keyHash: task.keyHash, credits: 60 },
      );
      await deps.queues.generate({ taskId: task.taskId });
      const record = await client.waitForRecord(task.taskId);
      expect(record).toMatchObject({ successFlag: 2, errorCode: 500 });
      expect(await client.credit()).toBe(before);
      expect(() => submitFor(prompt)).toThrow(/received no/);
    });
  });
}
