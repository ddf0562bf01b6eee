import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { RecordingCallbackSender } from '../../../test/support/in-memory-adapters';
import { InMemoryTaskStore } from '../../../test/support/in-memory-task-store';
import { testWorld } from '../../../test/support/test-deps';
import { ApiKeyCache, cachedApiKeys } from '../api-keys';
import type { Deps } from '../deps';
import type { NotifyMessage } from '../messages';
import type { CallbackChainMove } from '../ports';
import { generateRequestSchema } from '../schema';
import { type CallbackAttempt, newTask, type Task } from '../task/task';
import { UrlRefusedError } from '../url-guard';
import { signStandardWebhook, WebhookVerificationError } from '../webhook-signatures';
import { callbackBody, deliverCallback, signCallback, verifyWebhook, webhookId } from './notify';

const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const request = generateRequestSchema({ allowLoopback: false, allowHttp: false }).parse({
  prompt: 'a cat',
  callBackUrl: 'https://receiver.example.com/veo',
});
const base = newTask({
  request,
  paramJson: '{}',
  keyHash: 'h',
  credits: 60,
  provider: 'simulator',
  now: 1_700_000_000_000,
  retentionDays: 14,
  budgetSeconds: 600,
});
const succeeded: Task = {
  ...base,
  status: 'succeeded',
  results: [{ key: 'videos/x/0.mp4', originKey: 'videos/x/0.mp4', resolution: '720p' }],
};

describe('client callback bodies and signatures', () => {
  it("signs taskId.timestamp with the key's webhook secret, as kie.ai does", () => {
    const expected = createHmac('sha256', 'whsec_test').update(`${base.taskId}.1700000000`).digest('base64');
    expect(signCallback('whsec_test', base.taskId, 1_700_000_000)).toBe(expected);
    expect(signCallback('other', base.taskId, 1_700_000_000)).not.toBe(expected);
  });

  it('signs id.timestamp.body exactly as the Standard Webhooks reference library does', () => {
    const body = '{"code":200,"msg":"ok","data":{"taskId":"veo_1"}}';
    const reference = new Webhook(secret).sign('msg_veo_1_generation', new Date(1_700_000_000_000), body);
    expect(signStandardWebhook(secret, 'msg_veo_1_generation', 1_700_000_000, body)).toBe(reference);
    expect(signStandardWebhook(secret, 'msg_veo_1_generation', 1_700_000_001, body)).not.toBe(reference);
  });

  it('sends the success shape with the result URLs', () => {
    const task: Task = {
      ...succeeded,
      results: [{ key: 'videos/x/0.mp4', originKey: 'videos/x/0-original.mp4', resolution: '720p' }],
    };
    const signed = { resultUrls: ['https://signed/0.mp4'], originUrls: ['https://signed/0-original.mp4'] };
    expect(callbackBody(task, signed)).toEqual({
      code: 200,
      msg: 'Veo3.1 video generated successfully.',
      data: {
        taskId: base.taskId,
        info: {
          resultUrls: ['https://signed/0.mp4'],
          originUrls: ['https://signed/0-original.mp4'],
          resolution: '720p',
        },
        fallbackFlag: false,
      },
    });
  });

  it('sends the failure shape with the recorded code and reason', () => {
    const task: Task = { ...base, status: 'rejected', errorCode: 422, errorMessage: 'rejected by Flow' };
    expect(callbackBody(task, { resultUrls: [], originUrls: [] })).toEqual({
      code: 422,
      msg: 'rejected by Flow',
      data: { taskId: base.taskId, fallbackFlag: false },
    });
  });
});

describe('verifyWebhook, as a receiver runs it', () => {
  const sent = async () => {
    const world = fakeWorld([200]);
    world.clock.now = Date.now(); // the reference library checks the timestamp against the real clock
    await deliverCallback(world.deps, first);
    const delivery = world.sent[0];
    if (!delivery) throw new Error('nothing was sent');
    return { ...delivery, now: world.clock.now };
  };

  it('accepts a delivery: both signatures hold, and the reference library agrees', async () => {
    const { headers, body, now } = await sent();
    expect(headers['webhook-id']).toBe(webhookId(base.taskId, 'generation'));
    expect(headers['webhook-timestamp']).toBe(headers['x-webhook-timestamp']);
    expect(verifyWebhook(secret, headers, body, { now })).toMatchObject({ code: 200 });
    expect(new Webhook(secret).verify(body, headers)).toMatchObject({ data: { taskId: base.taskId } });
  });

  it('refuses a tampered body, a moved timestamp, another secret, a stale delivery and a forged kie signature', async () => {
    const { headers, body, now } = await sent();
    const refuse = (h: Record<string, string>, b: string, options = { now }, key = secret) =>
      expect(() => verifyWebhook(key, h, b, options)).toThrow(WebhookVerificationError);

    refuse(headers, body.replace('720p', '1080p'));
    expect(() => new Webhook(secret).verify(body.replace('720p', '1080p'), headers)).toThrow();
    const moved = String(Number(headers['webhook-timestamp']) + 1);
    refuse({ ...headers, 'webhook-timestamp': moved, 'x-webhook-timestamp': moved }, body);
    refuse(headers, body, { now }, 'whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==');
    refuse(headers, body, { now: now + 301_000 });
    refuse({ ...headers, 'x-webhook-signature': signCallback(secret, 'veo_other', now / 1000) }, body);
    const { 'webhook-id': _id, ...withoutId } = headers;
    refuse(withoutId, body);
  });
});

const first: NotifyMessage = { taskId: base.taskId, event: 'generation' };

describe('callback delivery and retries', () => {
  it('retries a non-2xx through the queue with the next wait of the schedule, then records the success', async () => {
    const world = fakeWorld([503, 503, 200]);
    await world.run(first);
    expect(world.sent).toHaveLength(3);
    expect(world.task().callbacks).toEqual([
      { at: 1_700_000_100_000, event: 'generation', attempt: 1, status: 503 },
      { at: 1_700_000_110_000, event: 'generation', attempt: 2, status: 503 },
      { at: 1_700_000_140_000, event: 'generation', attempt: 3, status: 200 },
    ]);
    expect(world.queued.map((q) => [q.message.attempt, q.delaySeconds])).toEqual([
      [1, 10],
      [2, 30],
    ]);
    expect(world.task().callbackChains).toEqual({ generation: { attempts: 3 } });
    // The webhook-id stays, the timestamp and so both signatures change with each attempt.
    expect(new Set(world.sent.map((d) => d.headers['webhook-id'])).size).toBe(1);
    expect(new Set(world.sent.map((d) => d.headers['x-webhook-timestamp'])).size).toBe(3);
  });

  it('gives up after 1 + schedule length attempts, with a closing entry and no further message', async () => {
    const world = fakeWorld(['ECONNREFUSED', 500, 302, 'timeout', 404, 503]);
    await world.run(first);
    expect(world.sent).toHaveLength(6);
    const entries = world.task().callbacks ?? [];
    expect(entries.map((e) => e.status ?? e.error)).toEqual([
      'ECONNREFUSED',
      500,
      302, // redirects are not followed: a failed attempt like any non-2xx
      'timeout',
      404,
      503,
      'gave up after 6 attempts',
    ]);
    expect(entries.at(-1)).toEqual({
      at: expect.any(Number),
      event: 'generation',
      error: 'gave up after 6 attempts',
    });
    // Five retries; the 1800 s wait took two rounds of the queue (SQS delays at most 900 s).
    expect(world.queued.map((q) => q.message.attempt)).toEqual([1, 2, 3, 4, 5, 5]);
    expect(world.task().callbackChains).toEqual({ generation: { attempts: 6 } });
  });

  it('waits longer than SQS allows by sending the message again with the rest of the wait', async () => {
    const world = fakeWorld([503, 200], [1800, 1800, 1800]);
    await world.run(first);
    expect(world.sent).toHaveLength(2);
    // Sent with 1800 s (the adapter caps it at 900), arrived after 900 s, sent again for the other 900 s.
    expect(world.queued.map((q) => q.delaySeconds)).toEqual([1800, 900]);
    const [failedAt, deliveredAt] = (world.task().callbacks ?? []).map((e) => e.at);
    expect((deliveredAt ?? 0) - (failedAt ?? 0)).toBe(1_800_000);
  });

  it('records a refused address without retrying, before or after DNS resolution', async () => {
    const syntactic = fakeWorld([200], undefined, {
      ...succeeded,
      request: { ...request, callBackUrl: 'https://169.254.169.254/' },
    });
    await syntactic.run(first);
    expect(syntactic.sent).toHaveLength(0);
    expect(syntactic.task().callbacks).toEqual([
      {
        at: expect.any(Number),
        event: 'generation',
        attempt: 1,
        error: expect.stringMatching(/^callBackUrl /),
      },
    ]);

    const resolved = fakeWorld(['refused']);
    await resolved.run(first);
    expect(resolved.sent).toHaveLength(1);
    expect(resolved.queued).toHaveLength(0);
    expect(resolved.task().callbacks?.map((e) => e.error)).toEqual([
      'callBackUrl resolves to a private address',
    ]);
  });

  it('does nothing for a duplicate after success, nor for a duplicate of an attempt already made', async () => {
    const world = fakeWorld([503, 200]);
    await deliverCallback(world.deps, first);
    const retry = world.queued[0]?.message;
    await deliverCallback(world.deps, first); // the first message again: its attempt is recorded
    expect(world.sent).toHaveLength(1);
    expect(world.queued).toHaveLength(1);

    if (!retry) throw new Error('no retry was queued');
    world.clock.now = retry.notBefore ?? 0;
    await deliverCallback(world.deps, retry);
    await deliverCallback(world.deps, retry); // after success
    await deliverCallback(world.deps, first);
    expect(world.sent).toHaveLength(2);
    expect(world.queued).toHaveLength(1);
    expect(world.task().callbacks?.map((e) => e.status)).toEqual([503, 200]);
  });

  it('keeps one retry chain when the same message is handled twice at once', async () => {
    const world = fakeWorld([503, 503, 200, 200]);
    await Promise.all([deliverCallback(world.deps, first), deliverCallback(world.deps, first)]);
    // Both POSTed and both are recorded, but only one of the two next messages continues the chain.
    expect(world.sent).toHaveLength(2);
    expect(world.task().callbacks?.map((e) => e.attempt)).toEqual([1, 1]);
    expect(world.queued).toHaveLength(2);
    for (const { message } of [...world.queued]) {
      world.clock.now = message.notBefore ?? 0;
      await deliverCallback(world.deps, message);
    }
    expect(world.sent).toHaveLength(3);
    expect(world.task().callbacks?.map((e) => e.status)).toEqual([503, 503, 200]);
  });

  it('throws when our own store fails, and the redelivery makes the attempt again without a second chain', async () => {
    const world = fakeWorld([503, 503, 200]);
    world.failNextRecord = true;
    await expect(deliverCallback(world.deps, first)).rejects.toThrow('DynamoDB is down');
    const orphan = world.queued[0]?.message;
    await world.run(first); // SQS redelivers the same message
    expect(world.task().callbacks?.map((e) => e.status)).toEqual([503, 200]);
    if (!orphan) throw new Error('no message was queued before the failure');
    await deliverCallback(world.deps, orphan);
    expect(world.sent).toHaveLength(3); // the orphaned next message did nothing
  });

  it('sends nothing for a task without a callBackUrl or not finished yet', async () => {
    for (const task of [
      { ...succeeded, request: { ...request, callBackUrl: undefined } },
      { ...base, status: 'submitted' as const },
    ]) {
      const world = fakeWorld([200], undefined, task);
      await world.run(first);
      expect(world.sent).toHaveLength(0);
      expect(world.task().callbacks).toBeUndefined();
    }
  });
});

describe('what a callback reads', () => {
  /** The end's own notify message, carrying the task as the end's move wrote it. */
  const endOf = (task: Task): NotifyMessage => ({
    taskId: task.taskId,
    keyHash: task.keyHash,
    event: 'generation',
    change: { type: 'succeeded', at: task.updatedAt, task },
  });
  const end = endOf(succeeded);

  it("takes the first delivery's task from the end it carries and the key from the cache: no read", async () => {
    const world = fakeWorld([200, 200]);
    const keyReads = world.countKeyReads();
    const deps = { ...world.deps, apiKeys: cachedApiKeys(world.deps.apiKeys, new ApiKeyCache(10_000)) };
    await deliverCallback(deps, end);
    expect(world.taskReads).toBe(0);
    expect(keyReads()).toBe(1);
    expect(world.task().callbacks?.map((e) => e.status)).toEqual([200]);
    expect(
      verifyWebhook(secret, world.sent[0]?.headers ?? {}, world.sent[0]?.body ?? '', {
        now: world.clock.now,
      }),
    ).toMatchObject({ code: 200 });
    // The next end of the same key's tasks, in the key cache's TTL: nothing read at all.
    const other = { ...succeeded, taskId: 'veo_other' };
    world.store.tasks.set(other.taskId, structuredClone(other));
    await deliverCallback(deps, endOf(other));
    expect([world.taskReads, keyReads()]).toEqual([0, 1]);
    expect(world.sent).toHaveLength(2);
  });

  it('reads on a redelivery, a retry or a redriven message, and then drops what was already delivered', async () => {
    const world = fakeWorld([200]);
    await deliverCallback(world.deps, end);
    for (const [message, delivery] of [
      [end, { redelivered: true }],
      [{ ...end, redriven: 1 }, { redelivered: false }],
      [endOf(world.task()), { redelivered: false }], // the copy has the callback's chain
    ] as const) {
      const before = world.taskReads;
      await deliverCallback(world.deps, message as NotifyMessage, delivery);
      expect(world.taskReads).toBe(before + 1);
    }
    expect(world.sent).toHaveLength(1);
    expect(world.task().callbacks?.map((e) => e.status)).toEqual([200]);
  });
});

type Answer = number | 'ECONNREFUSED' | 'timeout' | 'refused';

/** The in-memory store, failing its next callback write when asked to (DynamoDB being down). */
class FlakyTaskStore extends InMemoryTaskStore {
  failNextRecord = false;
  /** Reads of a task (alone or with its owner: the in-memory getWithOwner reads through get). */
  reads = 0;

  override get(taskId: string) {
    this.reads++;
    return super.get(taskId);
  }

  override async recordCallback(
    taskId: string,
    attempts: CallbackAttempt[],
    chain?: CallbackChainMove,
  ): Promise<boolean> {
    if (this.failNextRecord) {
      this.failNextRecord = false;
      throw new Error('DynamoDB is down');
    }
    return super.recordCallback(taskId, attempts, chain);
  }
}

/**
 * The in-memory adapters (the store with DynamoDB's conditional semantics for callback chains), a
 * receiver that answers from a script, and a clock the test moves.
 */
function fakeWorld(answers: Answer[], schedule = [10, 30, 120, 600, 1800], initial: Task = succeeded) {
  const world = testWorld({ callbackRetrySeconds: schedule });
  world.clock.now = 1_700_000_100_000;
  const tasks = new FlakyTaskStore(world.apiKeys, () => world.clock.now);
  const sender = new RecordingCallbackSender(
    answers.map((answer) =>
      answer === 'refused'
        ? new UrlRefusedError('callBackUrl', 'resolves to a private address')
        : typeof answer === 'string'
          ? new Error(answer)
          : answer,
    ),
  );
  const deps: Deps = { ...world.deps, tasks, callbacks: sender };
  const owner = { keyHash: initial.keyHash, name: 'k', credits: 0, webhookSecret: secret };
  world.apiKeys.keys.set(owner.keyHash, owner);
  tasks.tasks.set(initial.taskId, structuredClone(initial));
  const queued = world.queues.notified;
  return {
    clock: world.clock,
    sent: sender.sent,
    /** Every message sent to the notify queue, in order. */
    queued,
    deps,
    store: tasks,
    set failNextRecord(fail: boolean) {
      tasks.failNextRecord = fail;
    },
    get taskReads() {
      return tasks.reads;
    },
    /** Counts the key store's reads from now on; returns the count so far. */
    countKeyReads() {
      let reads = 0;
      const get = world.apiKeys.get.bind(world.apiKeys);
      world.apiKeys.get = (keyHash: string) => {
        reads++;
        return get(keyHash);
      };
      return () => reads;
    },
    task(): Task {
      const task = tasks.tasks.get(initial.taskId);
      if (!task) throw new Error('the task is gone');
      return task;
    },
    /** Delivers the message and every message it leads to, moving the clock to when each arrives. */
    async run(message: NotifyMessage) {
      let cursor = queued.length;
      await deliverCallback(deps, message);
      for (let next = queued[cursor]; next; next = queued[++cursor]) {
        world.clock.now += Math.min(next.delaySeconds ?? 0, 900) * 1000;
        await deliverCallback(deps, next.message);
      }
    },
  };
}
