import { describe, expect, it } from 'vitest';
import { eventSchemaErrors } from '../../../test/support/event-schema';
import { addKey, seedTask, type TestWorld, testWorld, thrown } from '../../../test/support/test-deps';
import { request4k } from '../api/renditions';
import { submitTask } from '../api/submit';
import { eventEnvelope } from '../events';
import type { NotifyMessage } from '../messages';
import { carryingChange, moveTask } from '../task/move';
import { startGeneration } from './generate';
import { notify } from './notify';
import { pollGeneration } from './poll';
import { makeRendition } from './renditions';

const callBackUrl = 'https://receiver.example.com/veo';

/** Hands every queued notify message to the notifier, as the notify queue would; returns them. */
async function drain(world: TestWorld): Promise<NotifyMessage[]> {
  const messages = world.queues.notified.splice(0).map((n) => n.message);
  for (const message of messages) await notify(world.deps, message);
  return messages;
}

/** Hands the generate messages to the worker, as the generate queue would (with the change they carry). */
async function work(world: TestWorld): Promise<void> {
  for (const { message } of world.queues.generated.splice(0)) {
    await carryingChange(world.deps, message.change, (deps) => startGeneration(deps, message));
  }
}

/** A task's whole life on the in-memory adapters: submitted, generated, succeeded, a 4K made. */
async function life(world: TestWorld, body: Record<string, unknown> = { prompt: 'a cat', callBackUrl }) {
  const key = await addKey(world, 5000, { name: 'pipeline' });
  const { taskId } = await submitTask(world.deps, key, body);
  await work(world);
  world.provider.answers.push({ state: 'done', videos: ['video'] });
  await pollGeneration(world.deps, { taskId });
  await request4k(world.deps, key, { taskId, callBackUrl });
  await makeRendition(world.deps, { taskId, rendition: '4k_0' });
  return { key, taskId };
}

describe('task events through the notify queue (the outbox)', () => {
  it('publishes exactly one event per change, in order, each valid against the published schema', async () => {
    const world = testWorld();
    const { taskId } = await life(world);
    const messages = await drain(world);
    // One notify message per change, the submit's `queued` carried with the worker's first: nothing is
    // published inline, and the two go out in one publish.
    expect(messages.map((m) => [...(m.earlier ?? []).map((c) => c.type), m.change?.type])).toEqual([
      ['queued', 'submitted'],
      ['succeeded'],
      ['renditionReady'],
    ]);
    expect(world.events.batches).toEqual([2, 1, 1]);
    expect(world.events.published.map((e) => [e.detailType, e.detail.taskId, e.detail.status])).toEqual([
      ['Veo Task Queued', taskId, 'queued'],
      ['Veo Task Submitted', taskId, 'submitted'],
      ['Veo Task Succeeded', taskId, 'succeeded'],
      ['Veo Rendition Ready', taskId, 'succeeded'],
    ]);
    for (const event of world.events.published) {
      const envelope = eventEnvelope(event, { id: 'e-1', account: '123456789012', region: 'us-east-1' });
      expect(eventSchemaErrors(envelope), event.detailType).toEqual([]);
    }
    const [, , done, ready] = world.events.published;
    expect(done?.detail.response?.resultUrls).toEqual([
      `https://videos.example.com/videos/${taskId}/0.mp4?signed`,
    ]);
    expect(ready?.detail.rendition).toEqual({
      slot: '4k_0',
      resolution: '4k',
      index: 0,
      status: 'ready',
      error: null,
    });
    // The callbacks go where they went before: the generation's end and the 4K, once each.
    expect(world.callbacks.sent.map((c) => JSON.parse(c.body).msg)).toEqual([
      'Veo3.1 video generated successfully.',
      '4K Video generated successfully.',
    ]);
  });

  it('fails only the message when publishing fails; the redelivered message publishes it and calls back once', async () => {
    const world = testWorld();
    const key = await addKey(world);
    const task = await seedTask(world, key, 'submitted', { body: { prompt: 'a cat', callBackUrl } });
    await moveTask(world.deps, task, 'failed', { errorCode: 501, errorMessage: 'upstream broke' });
    const [message] = world.queues.notified.map((n) => n.message);
    if (!message) throw new Error('no notify message');

    world.events.failing = 1;
    await expect(notify(world.deps, message)).rejects.toThrow('PutEvents refused');
    // The task ended anyway, and nobody was called back before the event went out.
    expect((await world.tasks.get(task.taskId))?.status).toBe('failed');
    expect(world.callbacks.sent).toEqual([]);

    const again = { redelivered: true };
    await notify(world.deps, message, again); // SQS delivers it again after the visibility timeout
    expect(world.events.published.map((e) => [e.detailType, e.detail.errorCode, e.detail.failMsg])).toEqual([
      ['Veo Task Failed', 501, 'upstream broke'],
    ]);
    expect(world.callbacks.sent).toHaveLength(1);
    // A third delivery (at least once) publishes again but never calls back twice.
    await notify(world.deps, message, again);
    expect(world.callbacks.sent).toHaveLength(1);
  });

  it('keeps secrets out of the event: no task token, no key hash', async () => {
    const world = testWorld({ taskTokenKeys: ['pipeline'] });
    await life(world, { prompt: 'a cat', taskToken: 'sfn-token-secret' });
    await drain(world);
    const text = JSON.stringify(world.events.published);
    expect(text).not.toContain('sfn-token-secret');
    expect(text).not.toContain((await world.apiKeys.list())[0]?.keyHash);
    expect(text).not.toContain('whsec_test');
  });
});

describe('Step Functions task tokens', () => {
  it('answers SendTaskSuccess once with the record when the task succeeds', async () => {
    const world = testWorld({ taskTokenKeys: ['pipeline'] });
    const { taskId } = await life(world, { prompt: 'a cat', taskToken: 'token-1' });
    await drain(world);
    expect(world.taskTokens.answers).toMatchObject([
      { token: 'token-1', output: { taskId, successFlag: 1, state: 'success' } },
    ]);
    const task = await world.tasks.get(taskId);
    expect(task?.taskToken).toBe('token-1');
    expect(task?.paramJson).not.toContain('token-1');
  });

  it("answers SendTaskFailure with kie's code and message when the task fails, also after its deadline", async () => {
    const world = testWorld({ taskTokenKeys: ['pipeline'] });
    const key = await addKey(world, 5000, { name: 'pipeline' });
    const { taskId } = await submitTask(world.deps, key, { prompt: 'a cat', taskToken: 'token-2' });
    await startGeneration(world.deps, { taskId });
    // Past its deadline the poller ends it (as the sweeper would, through moveTask).
    world.clock.now += 3_600_000;
    await pollGeneration(world.deps, { taskId });
    await drain(world);
    const task = await world.tasks.get(taskId);
    expect(task?.status).toBe('failed');
    expect(world.taskTokens.answers).toEqual([
      { token: 'token-2', error: `Veo.${task?.errorCode}`, cause: task?.errorMessage },
    ]);
  });

  it('refuses a taskToken from a key not allowed to use one (422 naming it), writing nothing', async () => {
    const world = testWorld({ taskTokenKeys: ['pipeline'] });
    const key = await addKey(world, 5000, { name: 'someone-else' });
    const error = await thrown(submitTask(world.deps, key, { prompt: 'a cat', taskToken: 'token-3' }));
    expect([error.code, error.message]).toEqual([
      422,
      'taskToken is not allowed for this API key (TASK_TOKEN_KEYS)',
    ]);
    expect(world.queues.generated).toEqual([]);
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(5000);
    const long = await thrown(submitTask(world.deps, key, { prompt: 'a cat', taskToken: 'x'.repeat(2049) }));
    expect([long.code, long.message]).toEqual([422, 'taskToken must be at most 2048 characters']);
  });
});
