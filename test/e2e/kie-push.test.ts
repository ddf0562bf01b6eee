import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient, endedTask, localDeps, taskWithLostPush } from './support';

/**
 * kie.ai pushes its results to our upstream-callback function, and a task it will push for is not polled
 * until its push comes or PUSH_CHECK_SECONDS (here 6 s) pass: only a verified push can finish it sooner; a
 * forged one is ignored, and a lost one is polled once the sweeper sees the check pass.
 */
let stack: RunningLocalStack;
const PUSH_CHECK_MS = 6000;

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    provider: 'kie',
    simulatorLatencyMs: 500,
    pollIntervalSeconds: 1,
    environment: { PUSH_CHECK_SECONDS: String(PUSH_CHECK_MS / 1000) },
  });
});
afterAll(() => stack?.stop());

it("completes a kie task from kie's signed push, with no poll scheduled beside it", async () => {
  const { taskId, record, ms } = await endedTask(stack, 'kie: a paper boat on a river');
  expect(record.successFlag).toBe(1);
  expect(ms).toBeLessThan(PUSH_CHECK_MS);
  const pushes = stack.simulator.callbacks.filter((c) => c.url.includes(taskId));
  expect(pushes.map((p) => p.status)).toContain(200);
  // The one poll the push asked for, none scheduled beside it (the first poll was 1 s after the submit).
  await new Promise((r) => setTimeout(r, 1500));
  expect(stack.simulator.stats.polls).toBe(1);
});

it('polls a task whose push was lost once the push check passes, and completes it', async () => {
  const pollsBefore = stack.simulator.stats.polls;
  const taskId = await taskWithLostPush(stack, 'kie: the push of this one never arrives', PUSH_CHECK_MS);
  // Not polled before the check: the sweeper started its polls (one found it done, 5.5 s before).
  expect(stack.simulator.stats.polls - pollsBefore).toBe(1);
  expect(stack.simulator.callbacks.filter((c) => c.url.includes(taskId))).toEqual([]);
});

it('ignores a push whose signature does not verify', async () => {
  const client = apiClient(stack);
  const taskId = await client.generate({ prompt: 'kie: a forged push should not matter' });
  // Only a submitted task can take a push: wait for that, so a refusal is the signature's doing.
  const deps = await localDeps();
  while ((await deps.tasks.get(taskId))?.status !== 'submitted') await new Promise((r) => setTimeout(r, 50));
  const pollsBefore = stack.simulator.stats.polls;
  const forged = await fetch(`${stack.url}/internal/upstream-callback?taskId=${taskId}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-webhook-timestamp': String(Math.floor(Date.now() / 1000)),
      'x-webhook-signature': Buffer.from('forged').toString('base64'),
    },
    body: JSON.stringify({ code: 200, data: { taskId } }),
  });
  expect((await forged.json()) as unknown).toMatchObject({ code: 200, data: { accepted: false } });
  expect(stack.simulator.stats.polls).toBe(pollsBefore);
});
