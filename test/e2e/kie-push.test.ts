import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient, localDeps } from './support';

/**
 * kie.ai pushes its results to our upstream-callback function. With the first poll a minute away, only
 * a verified push can finish the task within seconds; a forged one is ignored.
 */
let stack: RunningLocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    provider: 'kie',
    simulatorLatencyMs: 500,
    pollIntervalSeconds: 60,
  });
});
afterAll(() => stack?.stop());

it("completes a kie task from kie's signed push, long before the first poll", async () => {
  const client = apiClient(stack);
  const started = Date.now();
  const taskId = await client.generate({ prompt: 'kie: a paper boat on a river' });
  const record = await client.waitForRecord(taskId, (d) => d.successFlag !== 0, 20_000);
  expect(record.successFlag).toBe(1);
  expect(Date.now() - started).toBeLessThan(20_000);
  const pushes = stack.simulator.callbacks.filter((c) => c.url.includes(taskId));
  expect(pushes.map((p) => p.status)).toContain(200);
  expect(stack.simulator.stats.polls).toBe(1); // the one poll the push asked for
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
