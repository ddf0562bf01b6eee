import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Task } from '../../functions/core/task/task';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { EARLY_NOTICE_MS, type PushMode } from '../../simulator/google-pushes';
import { apiClient, localDeps } from './support';

/**
 * One poll chain per task (issue 17), on DynamoDB Local, fauxqs and the simulator. Vertex AI's bucket may
 * notify a video written before its operation is marked done: the simulator's `early` notifications come
 * EARLY_NOTICE_MS ahead of a 6 s generation, after 1 s, well before the push check (3 s). The push's poll finds
 * the generation running, polls on and takes the awaited push off the task, so the sweeper's push check
 * starts no second chain. The sweeper runs when a test says (no schedule here), so what it did is read.
 */
let stack: RunningLocalStack;
const GENERATION_MS = EARLY_NOTICE_MS + 1000;
const PUSH_CHECK_MS = 3000;

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    provider: 'vertex',
    vertexPush: true,
    simulatorLatencyMs: GENERATION_MS,
    pollIntervalSeconds: 1,
    schedules: [],
    environment: { PUSH_CHECK_SECONDS: String(PUSH_CHECK_MS / 1000) },
  });
});
afterAll(() => stack?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One sweep, as the scheduled sweeper makes it. */
async function sweepNow() {
  const { handler } = await import('../../functions/sweeper');
  return handler({});
}

/**
 * Submits `prompt` with the simulator's pushes in `mode`, waits until the task is submitted upstream and
 * `ready` holds (given the upstream polls of its generation so far), then until its push check has passed,
 * and sweeps once: the sweep's outcome, the task as it is then, and its generation upstream.
 */
async function sweptAtPushCheck(prompt: string, mode: PushMode, ready: (polls: number) => boolean) {
  const deps = await localDeps();
  stack.simulator.pushes = mode;
  try {
    const taskId = await apiClient(stack).generate({ prompt });
    let task: Task | undefined;
    const until = Date.now() + 10_000;
    for (;;) {
      task = await deps.tasks.get(taskId);
      const polls = stack.simulator.generations().find((g) => g.prompt === prompt)?.polls ?? 0;
      if (task?.status === 'submitted' && ready(polls)) break;
      if (Date.now() > until) throw new Error(`task ${taskId} never got ready: ${JSON.stringify(task)}`);
      await sleep(50);
    }
    const generation = stack.simulator.generations().find((g) => g.prompt === prompt);
    // Still running upstream: the chain, not the end, is what the sweep meets.
    expect(generation && Date.now() < generation.doneAt).toBe(true);
    // The push check is due PUSH_CHECK_MS after the move to submitted (which the push's poll does not date).
    const checkAt = task.updatedAt + PUSH_CHECK_MS;
    await sleep(Math.max(0, checkAt - Date.now()) + 200);
    const outcome = await sweepNow();
    return { outcome, taskId, task: await deps.tasks.get(taskId), generation };
  } finally {
    stack.simulator.pushes = 'send';
  }
}

it('polls on from a notification ahead of the end; the push check then starts no second chain', async () => {
  const prompt = 'vertex push: written before its operation is done';
  // Ready once the notification's poll has asked (and found the generation running).
  const { outcome, taskId, task, generation } = await sweptAtPushCheck(
    prompt,
    'early',
    (polls) => polls >= 1,
  );
  // That poll took the awaited push off the task, so the check found nothing to start.
  expect(task).toMatchObject({ status: 'submitted' });
  expect(task?.awaitedPush).toBeUndefined();
  expect(outcome.pollsStarted).toBe(0);
  const record = await apiClient(stack).waitForRecord(taskId, (d) => d.successFlag !== 0, 20_000);
  expect(record.successFlag).toBe(1);
  // The one notification, answered at its first delivery.
  expect(stack.simulator.callbacks.filter((c) => c.taskId === generation?.id).map((c) => c.status)).toEqual([
    200,
  ]);
});

it('starts the polls at the push check when no notification came (the same sweep, not a vacuous 0)', async () => {
  const prompt = 'vertex push: dropped, so the check must poll';
  const { outcome, taskId, task } = await sweptAtPushCheck(prompt, 'drop', () => true);
  expect(outcome.pollsStarted).toBe(1);
  expect(task?.awaitedPush).toBeUndefined();
  const record = await apiClient(stack).waitForRecord(taskId, (d) => d.successFlag !== 0, 20_000);
  expect(record.successFlag).toBe(1);
});
