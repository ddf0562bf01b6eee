import { afterAll, beforeAll, expect, it } from 'vitest';
import { localPushAccount, type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient, endedTask, localDeps, taskWithLostPush } from './support';

/**
 * Vertex AI's push (issue 17): Vertex writes each task's video into the task's folder of the bucket
 * (VERTEX_STORAGE_URI), and the bucket's Pub/Sub notification (OBJECT_FINALIZE) is pushed to our
 * upstream-callback URL with an OIDC token of the subscription's service account, as the simulator does
 * for `vertexPush`. Such a task is not polled until its push comes: a generation takes 0.5 s and a push not
 * heard within 5 s (PUSH_CHECK_SECONDS) has the sweeper start the polls, so a task done before then was
 * noticed by the push. A failed generation writes nothing, so it is noticed by those polls.
 */
let stack: RunningLocalStack;
const PUSH_CHECK_MS = 5000;

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    provider: 'vertex',
    vertexPush: true,
    simulatorLatencyMs: 500,
    pollIntervalSeconds: 1,
    environment: { PUSH_CHECK_SECONDS: String(PUSH_CHECK_MS / 1000) },
  });
});
afterAll(() => stack?.stop());

const generationOf = (prompt: string) => stack.simulator.generations().find((g) => g.prompt === prompt);
const pushesOf = (prompt: string) => {
  const id = generationOf(prompt)?.id;
  return stack.simulator.callbacks.filter((c) => id !== undefined && c.taskId === id);
};

it("completes a task from its bucket's notification, with the one poll the push asked for", async () => {
  const prompt = 'vertex push: a kite over the dunes';
  const { taskId, record, ms } = await endedTask(stack, prompt);
  expect(record.successFlag).toBe(1);
  expect(ms).toBeLessThan(PUSH_CHECK_MS);
  const generation = generationOf(prompt);
  // Written into the task's folder, which is how the notification names the task.
  expect(generation?.details.storageUri).toBe(`gs://local-videos/veo/${taskId}/`);
  expect(generation?.polls).toBe(1);
  const pushes = pushesOf(prompt);
  expect(pushes.map((p) => p.status)).toEqual([200]);
  expect(pushes[0]?.url).toMatch(/\/internal\/upstream-callback$/);
  expect(pushes[0]?.body).toMatchObject({
    message: {
      attributes: { eventType: 'OBJECT_FINALIZE', objectId: expect.stringContaining(`veo/${taskId}/`) },
    },
  });
  expect(pushes[0]?.at).toBeLessThanOrEqual(generation?.firstDonePollAt ?? 0);
  // The video came through the Cloud Storage API, with the service account's token.
  const download = stack.simulator.requests.find((r) => r.kind === 'download' && r.id === generation?.id);
  expect(download?.auth).toBe('valid');
});

it('notices a failed generation, which writes no object, by the polls the push check starts', async () => {
  const prompt = 'vertex push: this one fails upstream [fail]';
  const { record, ms } = await endedTask(stack, prompt);
  expect(record.successFlag).not.toBe(1);
  expect(ms).toBeGreaterThanOrEqual(PUSH_CHECK_MS - 500);
  expect(pushesOf(prompt)).toEqual([]);
  expect(generationOf(prompt)?.polls).toBeGreaterThanOrEqual(1);
});

it('still completes a task whose notification was lost: the sweeper starts its polls at the push check', async () => {
  const prompt = 'vertex push: the notification of this one never arrives';
  await taskWithLostPush(stack, prompt, PUSH_CHECK_MS);
  expect(pushesOf(prompt)).toEqual([]);
});

it("refuses a notification without the subscription's token, or with another account's, and polls nothing", async () => {
  const client = apiClient(stack);
  const prompt = 'vertex push: a forged notification should not matter';
  const taskId = await client.generate({ prompt });
  const deps = await localDeps();
  while ((await deps.tasks.get(taskId))?.status !== 'submitted') await new Promise((r) => setTimeout(r, 50));
  const pollsBefore = stack.simulator.stats.polls;
  const notification = {
    message: {
      attributes: {
        eventType: 'OBJECT_FINALIZE',
        bucketId: 'local-videos',
        objectId: `veo/${taskId}/x/sample_0.mp4`,
      },
      data: '',
      messageId: '1',
    },
    subscription: 'projects/local-project/subscriptions/veo-videos',
  };
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${part({ alg: 'RS256', kid: 'x' })}.${part({ exp: now + 60, email: localPushAccount, email_verified: true })}.${part({})}`;
  for (const authorization of [undefined, `Bearer ${unsigned}`]) {
    const response = await fetch(`${stack.url}/internal/upstream-callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization && { authorization }) },
      body: JSON.stringify(notification),
    });
    expect((await response.json()) as unknown).toMatchObject({ code: 200, data: { accepted: false } });
  }
  // A body that names no task of ours is refused before anything is verified.
  const foreign = await fetch(`${stack.url}/internal/upstream-callback`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      ...notification,
      message: { attributes: { ...notification.message.attributes, bucketId: 'other' } },
    }),
  });
  expect((await foreign.json()) as unknown).toMatchObject({ data: { accepted: false } });
  expect(stack.simulator.stats.polls).toBe(pollsBefore);
});
