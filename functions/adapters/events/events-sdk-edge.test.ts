import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient, TaskTimedOut } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { addKey, seedTask, type TestWorld, testWorld } from '../../../test/support/test-deps';
import { submitTask } from '../../core/api/submit';
import { taskEventOf } from '../../core/events';
import { startGeneration } from '../../core/stages/generate';
import { notify } from '../../core/stages/notify';
import { pollGeneration } from '../../core/stages/poll';
import { sweep } from '../../core/stages/sweep';
import { carryingChange } from '../../core/task/move';
import { CoalescingEventPublisher } from './coalescing-event-publisher';
import { EventBridgeEventPublisher } from './eventbridge-event-publisher';
import { SfnTaskTokens } from './sfn-task-tokens';

const eventBridge = mockClient(EventBridgeClient);
const sfn = mockClient(SFNClient);
afterEach(() => {
  eventBridge.reset();
  sfn.reset();
});

/** The in-memory world, with the real EventBridge and Step Functions adapters on mocked SDK clients. */
function world(): TestWorld {
  const w = testWorld({ taskTokenKeys: ['pipeline'] });
  w.deps.events = new EventBridgeEventPublisher(new EventBridgeClient({ region: 'us-east-1' }), 'veo-bus');
  w.deps.taskTokens = new SfnTaskTokens(new SFNClient({ region: 'us-east-1' }));
  return w;
}

/** Hands each queued notify message to the notifier, redelivering it once as SQS may. */
async function drainTwice(w: TestWorld) {
  for (const { message } of w.queues.notified.splice(0)) {
    await notify(w.deps, message);
    await notify(w.deps, message);
  }
}

async function run(w: TestWorld, answer: 'done' | 'failed') {
  const key = await addKey(w, 5000, { name: 'pipeline' });
  const { taskId } = await submitTask(w.deps, key, { prompt: 'a cat', taskToken: 'AQB-token' });
  // The worker, as the generate queue hands it the submit's message (with the `queued` change it carries).
  for (const { message } of w.queues.generated.splice(0)) {
    await carryingChange(w.deps, message.change, (deps) => startGeneration(deps, message));
  }
  w.provider.answers.push(
    answer === 'done' ? { state: 'done', videos: ['video'] } : { state: 'failed', reason: 'upstream broke' },
  );
  await pollGeneration(w.deps, { taskId });
  return taskId;
}

describe('EventBridge and Step Functions at the SDK edge', () => {
  it('puts each event on the configured bus with our source, detail-type and the record as detail', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
    sfn.on(SendTaskSuccessCommand).resolves({});
    const w = world();
    const taskId = await run(w, 'done');
    await drainTwice(w);
    const requests = eventBridge.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries ?? []);
    // At least once: the redelivered messages publish again (consumers deduplicate on taskId + detail-type).
    // The submit's `queued` goes with the worker's `submitted`: one PutEvents for both, in that order.
    expect(requests.map((entries) => entries.map((e) => e.DetailType))).toEqual([
      ['Veo Task Queued', 'Veo Task Submitted'],
      ['Veo Task Queued', 'Veo Task Submitted'],
      ['Veo Task Succeeded'],
      ['Veo Task Succeeded'],
    ]);
    const succeeded = requests[2]?.[0];
    expect(succeeded).toMatchObject({ EventBusName: 'veo-bus', Source: 'veo-serverless' });
    expect(JSON.parse(succeeded?.Detail ?? '{}')).toMatchObject({
      taskId,
      status: 'succeeded',
      successFlag: 1,
    });
  });

  it('answers the token with exactly one SendTaskSuccess carrying the record; a redelivery is refused harmlessly', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0 });
    // Step Functions refuses a second answer to the same token: the adapter takes that as done.
    sfn
      .on(SendTaskSuccessCommand)
      .resolvesOnce({})
      .rejects(new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }));
    const w = world();
    const taskId = await run(w, 'done');
    const messages = w.queues.notified.splice(0).map((n) => n.message);
    for (const message of messages) await notify(w.deps, message);
    const calls = sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.taskToken).toBe('AQB-token');
    expect(JSON.parse(calls[0]?.output ?? '{}')).toMatchObject({ taskId, successFlag: 1, state: 'success' });
    expect(sfn.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
    // SQS delivers the end's message again: Step Functions refuses the second answer, the message succeeds.
    const end = messages.find((m) => m.change?.type === 'succeeded');
    if (!end) throw new Error('no end message');
    await notify(w.deps, end);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(2);
  });

  it("answers a failed task with one SendTaskFailure: kie's code as error, its message as cause", async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0 });
    sfn.on(SendTaskFailureCommand).resolves({});
    const w = world();
    const taskId = await run(w, 'failed');
    for (const { message } of w.queues.notified.splice(0)) await notify(w.deps, message);
    const task = await w.tasks.get(taskId);
    expect(sfn.commandCalls(SendTaskFailureCommand).map((c) => c.args[0].input)).toEqual([
      { taskToken: 'AQB-token', error: `Veo.${task?.errorCode}`, cause: task?.errorMessage },
    ]);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it('answers a task the sweeper ends after its deadline with exactly one SendTaskFailure', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0 });
    sfn.on(SendTaskFailureCommand).resolves({});
    const w = world();
    const key = await addKey(w, 5000, { name: 'pipeline' });
    const { taskId } = await submitTask(w.deps, key, { prompt: 'a cat', taskToken: 'AQB-swept' });
    await startGeneration(w.deps, { taskId });
    // The upstream never answers; past the deadline and the grace the sweeper ends it.
    const task = await w.tasks.get(taskId);
    w.clock.now = (task?.deadlineAt ?? 0) + (w.deps.settings.sweepGraceSeconds + 1) * 1000;
    expect((await sweep(w.deps)).tasksEnded).toBe(1);
    // A second sweep finds nothing: the task ended once, with one notify message.
    expect((await sweep(w.deps)).tasksEnded).toBe(0);
    for (const { message } of w.queues.notified.splice(0)) await notify(w.deps, message);
    expect(sfn.commandCalls(SendTaskFailureCommand).map((c) => c.args[0].input)).toEqual([
      {
        taskToken: 'AQB-swept',
        error: 'Veo.501',
        cause: `Generation did not finish within ${w.deps.settings.budgetSeconds} seconds`,
      },
    ]);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  // Issue 19, "exactly one": a poll chain's next message finding the task ended by a push-triggered poll
  // (kie) or the sweeper does not queue the end again; only a redelivery may (poll.ts: the crash guard).
  it('answers once when the poll chain finds the task already ended by a push-triggered poll', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0 });
    sfn.on(SendTaskSuccessCommand).resolves({});
    const w = world();
    const key = await addKey(w, 5000, { name: 'pipeline' });
    const { taskId } = await submitTask(w.deps, key, { prompt: 'a cat', taskToken: 'AQB-pushed' });
    await startGeneration(w.deps, { taskId });
    const chain = w.queues.polled.at(-1)?.message;
    if (!chain) throw new Error('no poll message');
    w.provider.answers.push({ state: 'done', videos: ['video'] }, { state: 'done', videos: ['video'] });
    await pollGeneration(w.deps, { taskId }); // the upstream's push: poll now (ends the task)
    await pollGeneration(w.deps, chain); // the chain's next poll, already queued
    for (const { message } of w.queues.notified.splice(0)) await notify(w.deps, message);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
  });

  it('fails the message when PutEvents reports a failed entry, so SQS delivers it again', async () => {
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }],
    });
    const publisher = new EventBridgeEventPublisher(
      new EventBridgeClient({ region: 'us-east-1' }),
      'default',
    );
    const w = testWorld();
    const task = await seedTask(w, await addKey(w));
    const event = taskEventOf({ type: 'queued', at: 0, task }, { resultUrls: [], originUrls: [] });
    await expect(publisher.publish(event)).rejects.toThrow('ThrottlingException slow down');
  });

  it("puts one invocation's events in one PutEvents, failing only the records whose entries were refused", async () => {
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [
        { EventId: 'a' },
        { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' },
        { EventId: 'c' },
      ],
    });
    const publisher = new CoalescingEventPublisher(
      new EventBridgeEventPublisher(new EventBridgeClient({ region: 'us-east-1' }), 'default'),
    );
    const w = testWorld();
    const key = await addKey(w);
    const events = await Promise.all(
      [0, 1, 2].map(async (at) =>
        taskEventOf({ type: 'queued', at, task: await seedTask(w, key) }, { resultUrls: [], originUrls: [] }),
      ),
    );
    // Three records of one notifier invocation reach their publish in the same turn.
    const outcomes = await Promise.allSettled(events.map((event) => publisher.publish(event)));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toContain('ThrottlingException slow down');
    const requests = eventBridge.commandCalls(PutEventsCommand);
    expect(
      requests.map((c) => c.args[0].input.Entries?.map((e) => JSON.parse(e.Detail ?? '{}').taskId)),
    ).toEqual([events.map((e) => e.detail.taskId)]);
  });

  it('passes on a Step Functions error that retrying can fix', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(new Error('socket hang up'));
    const tokens = new SfnTaskTokens(new SFNClient({ region: 'us-east-1' }));
    await expect(tokens.succeed('t', {})).rejects.toThrow('socket hang up');
  });
});
