import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient, endedTask, localDeps, taskWithLostPush } from './support';

/**
 * The Gemini API's webhooks (issue 17): each submit asks for a dynamic webhook at our upstream-callback
 * URL; the simulator, like Google, POSTs a `video.generated` event signed with an RS256 JWT of its key
 * set when the generation ends. Such a task is not polled until its push comes: a generation takes 0.5 s
 * and a push not heard within 5 s (PUSH_CHECK_SECONDS) has the sweeper start the polls, so a task done
 * before then was noticed by the push. A push lost on the way still ends by polling.
 */
let stack: RunningLocalStack;
const PUSH_CHECK_MS = 5000;

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    provider: 'gemini',
    simulatorLatencyMs: 500,
    pollIntervalSeconds: 1,
    environment: { GEMINI_WEBHOOKS: 'true', PUSH_CHECK_SECONDS: String(PUSH_CHECK_MS / 1000) },
  });
});
afterAll(() => stack?.stop());

const generationOf = (prompt: string) => stack.simulator.generations().find((g) => g.prompt === prompt);

it("completes a task from the Gemini API's signed push, with the one poll the push asked for", async () => {
  const prompt = 'gemini push: a lantern drifting over a lake';
  const { taskId, record, ms } = await endedTask(stack, prompt);
  expect(record.successFlag).toBe(1);
  expect(ms).toBeLessThan(PUSH_CHECK_MS);
  // Polled once, at the push's request, after it arrived: no poll was scheduled beside it.
  const generation = generationOf(prompt);
  expect(generation?.polls).toBe(1);
  const pushes = stack.simulator.callbacks.filter((c) => c.url.includes(taskId));
  expect(pushes.map((p) => p.status)).toEqual([200]);
  expect(pushes[0]?.at).toBeLessThanOrEqual(generation?.firstDonePollAt ?? 0);
  expect(pushes[0]?.url).toContain('/internal/upstream-callback?taskId=');
});

it('still completes a task whose push was lost: the sweeper starts its polls at the push check', async () => {
  const prompt = 'gemini push: the push of this one never arrives';
  const taskId = await taskWithLostPush(stack, prompt, PUSH_CHECK_MS);
  expect(stack.simulator.callbacks.filter((c) => c.url.includes(taskId))).toEqual([]);
  expect(generationOf(prompt)?.polls).toBeGreaterThanOrEqual(1);
});

it('takes a push that arrives after polling ended the task (Google delivers at least once) as a no-op', async () => {
  stack.simulator.pushes = 'hold';
  const client = apiClient(stack);
  const prompt = 'gemini push: this push comes late';
  const taskId = await client.generate({ prompt });
  let released = false;
  try {
    const record = await client.waitForRecord(taskId, (d) => d.successFlag !== 0, 20_000);
    const polls = generationOf(prompt)?.polls;
    stack.simulator.pushes = 'send';
    released = true;
    const started = Date.now();
    while (!stack.simulator.callbacks.some((c) => c.url.includes(taskId) && c.status !== undefined)) {
      if (Date.now() - started > 10_000) throw new Error('the held push never went out');
      await new Promise((r) => setTimeout(r, 50));
    }
    // Authentic, so accepted: its poll reads the task, finds it ended and asks the upstream nothing.
    expect(stack.simulator.callbacks.filter((c) => c.url.includes(taskId)).map((c) => c.status)).toEqual([
      200,
    ]);
    await new Promise((r) => setTimeout(r, 500));
    expect(generationOf(prompt)?.polls).toBe(polls);
    const after = await client.record(taskId);
    expect([after.successFlag, after.completeTime]).toEqual([record.successFlag, record.completeTime]);
  } finally {
    if (!released) stack.simulator.pushes = 'send';
  }
});

it('refuses a push whose JWT does not verify against the key set, and polls nothing for it', async () => {
  const client = apiClient(stack);
  const prompt = 'gemini push: a forged push should not matter';
  const taskId = await client.generate({ prompt });
  // Only a submitted task can take a push: wait for that, so a refusal is the signature's doing.
  const deps = await localDeps();
  while ((await deps.tasks.get(taskId))?.status !== 'submitted') await new Promise((r) => setTimeout(r, 50));
  const pollsBefore = stack.simulator.stats.polls;
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const forged = await fetch(`${stack.url}/internal/upstream-callback?taskId=${taskId}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': 'msg_forged',
      'webhook-timestamp': String(now),
      'webhook-signature': `${part({ alg: 'RS256', kid: 'x' })}.${part({ exp: now + 60 })}.${part({})}`,
    },
    body: JSON.stringify({ type: 'video.generated', data: {} }),
  });
  expect((await forged.json()) as unknown).toMatchObject({ code: 200, data: { accepted: false } });
  expect(stack.simulator.stats.polls).toBe(pollsBefore);
});
