import { afterAll, beforeAll, expect, it } from 'vitest';
import { hashApiKey, newApiKey } from '../../functions/core/api-keys';
import { generateRequestSchema } from '../../functions/core/schema';
import { newTask } from '../../functions/core/task';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient, download, localDeps } from './support';

/**
 * POST /veo/extend on the local stack (SPEC §2): a new task with its own lifecycle that continues a
 * finished video; the worker hands the source's stored original to the provider as the video to extend.
 */
let stack: RunningLocalStack;
let client: ReturnType<typeof apiClient>;
let source = '';

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, simulatorLatencyMs: 500, pollIntervalSeconds: 1 });
  client = apiClient(stack);
  source = await client.generate({ prompt: 'a dog running on a beach', seeds: 11111 });
  await client.waitForRecord(source);
}, 60_000);
afterAll(() => stack?.stop());

const extend = (body: unknown, key?: string) =>
  client.call<{ taskId: string }>('POST', '/api/v1/veo/extend', { body, key });

it('continues a finished video as a new task, charged like a generation, with the full video', async () => {
  const before = await client.credit();
  const prompt = 'the dog jumps into the sea';
  const answer = await extend({ taskId: source, prompt, model: 'quality', seeds: 22222 });
  expect([answer.status, answer.json.msg]).toEqual([200, 'success']);
  const taskId = answer.json.data.taskId;
  expect(taskId).not.toBe(source);
  expect(await client.credit()).toBe(before - 300); // quality = veo3's price

  const record = await client.waitForRecord(taskId);
  expect(record).toMatchObject({
    successFlag: 1,
    generationType: 'EXTEND',
    extendsTaskId: source,
    model: 'veo3',
    seeds: 22222,
    aspectRatio: '16:9',
  });
  const full = record.response?.fullResultUrls ?? [];
  expect(full).toHaveLength(1);
  expect((await download(full[0])).subarray(4, 8).toString('latin1')).toBe('ftyp');

  // The provider was handed the source's stored video, byte for byte.
  const original = await download((await client.record(source)).response?.originUrls[0]);
  const submit = stack.simulator.requests.find(
    (r) => r.kind === 'submit' && JSON.stringify(r.body).includes(prompt),
  );
  expect(JSON.stringify(submit?.body)).toContain(original.toString('base64'));
});

it('refuses unfinished tasks, other keys, unknown tasks and bad fields with 422, charging nothing', async () => {
  // A task that stays queued: written without a queue message, so nothing moves it on.
  const deps = await localDeps();
  const pending = newTask({
    request: generateRequestSchema(deps.settings.urlPolicy).parse({ prompt: 'still being made' }),
    paramJson: '{}',
    keyHash: hashApiKey(stack.apiKey),
    credits: 0,
    provider: 'simulator',
    now: Date.now(),
    retentionDays: 14,
    budgetSeconds: 600,
  });
  await deps.tasks.createCharged(pending, { keyHash: pending.keyHash, credits: 0 });
  const queued = pending.taskId;
  const otherKey = newApiKey();
  await deps.apiKeys.put({
    keyHash: hashApiKey(otherKey),
    name: 'other',
    credits: 1000,
    webhookSecret: 'whsec_x',
  });
  const before = await client.credit();
  const [notDone, notMine, unknown, badModel, noPrompt] = await Promise.all([
    extend({ taskId: queued, prompt: 'more' }),
    extend({ taskId: source, prompt: 'more' }, otherKey),
    extend({ taskId: 'veo_doesnotexist', prompt: 'more' }),
    extend({ taskId: source, prompt: 'more', model: 'ultra' }),
    extend({ taskId: source }),
  ]);
  expect([notDone.status, notDone.json.msg]).toEqual([422, 'record status is not success']);
  expect([notMine.status, notMine.json.msg]).toEqual([422, 'record is null']);
  expect(unknown.json).toEqual(notMine.json);
  expect([badModel.status, badModel.json.msg]).toEqual([
    422,
    'model must be one of fast, quality, veo3_fast, veo3',
  ]);
  expect([noPrompt.status, noPrompt.json.msg]).toEqual([422, 'prompt is required']);
  expect(await client.credit()).toBe(before);
  expect(await client.credit(otherKey)).toBe(1000);
});
