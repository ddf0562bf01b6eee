import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient } from '../e2e/support';

/**
 * `stack.startConsumers()` as the bench's `burst-queued` uses it: a stack started without the worker's event
 * sources keeps new tasks queued, and starting them later submits what waited.
 */
describe('local stack: consumers started later', () => {
  let stack: RunningLocalStack;

  beforeAll(async () => {
    stack = await startLocalStack({
      port: 0,
      simulatorLatencyMs: 200,
      consumers: ['poll', 'notify'],
      environment: { RATE_LIMIT: 'off' },
    });
  });
  afterAll(() => stack?.stop());

  it('leaves a task queued until the worker’s queues are consumed, then completes it', async () => {
    const api = apiClient(stack);
    const taskId = await api.generate({ prompt: 'wait for the worker' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(stack.simulator.generations()).toHaveLength(0);
    expect((await api.record(taskId)).successFlag).toBe(0);

    stack.startConsumers(['generate', 'reserved']);
    const record = await api.waitForRecord(taskId, (d) => d.successFlag !== 0, 30_000);
    expect(record.successFlag).toBe(1);
    expect(stack.simulator.generations().filter((g) => g.prompt === 'wait for the worker')).toHaveLength(1);
  });
});
