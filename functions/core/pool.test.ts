import { describe, expect, it } from 'vitest';
import { type PoolWorld, poolWorld } from '../../test/support/pool-world';
import { addKey, seedTask, thrown } from '../../test/support/test-deps';
import { recordInfo } from './api/record-info';
import { submitTask } from './api/submit';
import { UpstreamUnavailableError } from './errors';
import type { UpstreamSpec } from './pool';
import { upstreamMarginOf } from './rate-window';
import { startGeneration, submitLeadMs } from './stages/generate';
import { pollGeneration } from './stages/poll';
import { acceptPush } from './stages/push';

type Spec = Partial<UpstreamSpec> & Pick<UpstreamSpec, 'name'>;
const quota = (scope: string, limit: number) => ({ scope, limit, windowMs: 10_000 });

async function pool(specs: Spec[], circuit?: { threshold: number; coolDownMs: number }) {
  const world = poolWorld(specs, circuit);
  const key = await addKey(world, 100_000);
  return { world, key };
}

/** Which upstream each submitted task went to, by the upstreams' own logs. */
function submittedTo(world: PoolWorld): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(world.upstreams).map(([name, fake]) => [name, fake.submitted.map((r) => r.taskId)]),
  );
}

describe('routing a task through the pool', () => {
  it('goes to the first upstream by priority and records it with the submit; record-info and the poll show it', async () => {
    const { world, key } = await pool([
      { name: 'backup', priority: 1 },
      { name: 'main', priority: 0 },
    ]);
    const task = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: task.taskId });
    expect(submittedTo(world)).toEqual({ backup: [], main: [task.taskId] });
    expect(await world.tasks.get(task.taskId)).toMatchObject({ status: 'submitted', upstream: 'main' });
    expect(world.queues.polled[0]?.message.upstream).toBe('main');
    expect((await recordInfo(world.deps, key, { taskId: task.taskId })).upstream).toBe('main');
    expect(world.metrics.counts).toContainEqual({
      name: 'UpstreamSubmits',
      dimensions: { upstream: 'main' },
    });
  });

  it('among equal priorities, prefers the one with more free slots in its quota window', async () => {
    const { world, key } = await pool([
      { name: 'a', quota: quota('a', 4) },
      { name: 'b', quota: quota('b', 4) },
    ]);
    world.tasks.windows.set('a', { grants: [world.clock.now, world.clock.now] });
    world.tasks.windows.set('b', { grants: [world.clock.now] });
    const task = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: task.taskId });
    expect(submittedTo(world).b).toEqual([task.taskId]);
  });

  it('weighs free slots by how soon they come back: per second of the quota window', async () => {
    const { world, key } = await pool([
      { name: 'minute', quota: { scope: 'minute', limit: 50, windowMs: 60_000 } },
      { name: 'ten-seconds', quota: { scope: 'ten-seconds', limit: 20, windowMs: 10_000 } },
    ]);
    // 50 free for a minute (0.83 a second) against 20 for ten seconds (2 a second): the first 12 go where
    // slots return soonest, until 8 left there (0.8 a second) weigh less than the minute's 50.
    const tasks = [];
    for (let i = 0; i < 13; i++) tasks.push(await seedTask(world, key));
    for (const task of tasks) await startGeneration(world.deps, { taskId: task.taskId });
    expect(submittedTo(world)['ten-seconds']).toHaveLength(12);
    expect(submittedTo(world).minute).toEqual([tasks[12]?.taskId]);
  });

  it('drains a burst at the sum of the quotas and waits for the earliest slot of any upstream', async () => {
    const { world, key } = await pool([
      { name: 'a', quota: quota('a', 2) },
      { name: 'b', quota: { scope: 'b', limit: 1, windowMs: 4_000 } },
    ]);
    const tasks = [];
    for (let i = 0; i < 4; i++) tasks.push(await seedTask(world, key));
    for (const task of tasks) await startGeneration(world.deps, { taskId: task.taskId });
    expect(submittedTo(world).a).toHaveLength(2);
    expect(submittedTo(world).b).toHaveLength(1);
    // The fourth reserves b's next slot (4 s and our margin), the earlier of the two, and waits for it (its
    // message visible 2–3 s before, on the reserved queue).
    const slot = { scope: 'b', at: world.clock.now + submitLeadMs + 4_000 + upstreamMarginOf(4_000) };
    expect(world.queues.reservations).toEqual([
      { message: { taskId: tasks[3]?.taskId, slot }, delaySeconds: 2 },
    ]);
    expect(world.queues.generated).toEqual([]);
  });

  it('sends a request only some upstreams can honour to those, and refuses one none can, naming the field', async () => {
    const { world, key } = await pool([
      { name: 'kie-a', provider: 'kie', priority: 0 },
      { name: 'vertex', provider: 'vertex', priority: 1 },
    ]);
    const { taskId } = await submitTask(world.deps, key, { prompt: 'a cat', generateAudio: false });
    await startGeneration(world.deps, { taskId });
    expect(submittedTo(world)).toEqual({ 'kie-a': [], vertex: [taskId] });

    const { world: other, key: otherKey } = await pool([
      { name: 'kie-a', provider: 'kie' },
      { name: 'gemini', provider: 'gemini', priority: 1 },
    ]);
    const refused = await thrown(submitTask(other.deps, otherKey, { prompt: 'a cat', generateAudio: false }));
    expect(refused.code).toBe(422);
    expect(refused.message).toContain('generateAudio false is not available on veo3_fast (kie)');
    expect(other.tasks.tasks.size).toBe(0);
  });

  it('keeps to the upstreams that serve the model', async () => {
    const { world, key } = await pool([
      { name: 'fast-only', serves: ['veo3_fast'] },
      { name: 'quality', priority: 5 },
    ]);
    const task = await seedTask(world, key, 'queued', { body: { prompt: 'a cat', model: 'veo3' } });
    await startGeneration(world.deps, { taskId: task.taskId });
    expect(submittedTo(world)).toEqual({ 'fast-only': [], quality: [task.taskId] });
  });
});

describe('failover without double generation', () => {
  it('hands a submit refused outright (a 5xx answered) to the next upstream at once', async () => {
    const { world, key } = await pool([{ name: 'a' }, { name: 'b', priority: 1 }]);
    world.upstreams.a?.failures.push(new UpstreamUnavailableError('a answered HTTP 503'));
    const task = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: task.taskId });
    expect(world.upstreams.a?.attempts).toHaveLength(1);
    expect(submittedTo(world)).toEqual({ a: [], b: [task.taskId] });
    expect(await world.tasks.get(task.taskId)).toMatchObject({ status: 'submitted', upstream: 'b' });
    expect(world.metrics.counts).toContainEqual({ name: 'UpstreamRefusals', dimensions: { upstream: 'a' } });
  });

  it('never sends a submit whose fate is unknown (a timeout after sending) anywhere else: failed, refunded', async () => {
    const { world, key } = await pool([{ name: 'a' }, { name: 'b', priority: 1 }]);
    world.upstreams.a?.failures.push(
      new UpstreamUnavailableError('a unreachable: timed out', { fate: 'unknown' }),
    );
    const task = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: task.taskId });
    expect(world.upstreams.b?.attempts).toHaveLength(0);
    expect(await world.tasks.get(task.taskId)).toMatchObject({ status: 'failed', errorCode: 501 });
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(100_000);
    expect(world.queues.generated).toEqual([]);
  });

  it('does not try an upstream that refused the task for good (a 4xx) again', async () => {
    const { world, key } = await pool([
      { name: 'a', quota: quota('a', 5) },
      { name: 'b', priority: 1, quota: quota('b', 1) },
    ]);
    world.tasks.windows.set('b', { grants: [world.clock.now] });
    world.upstreams.a?.failures.push(new Error('a answered HTTP 400: bad request'));
    const task = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: task.taskId });
    // b is full now: the task reserves b's next slot, and remembers that a refused it.
    const slot = { scope: 'b', at: world.clock.now + 10_000 + upstreamMarginOf(10_000) };
    expect(world.queues.reservations).toEqual([
      { message: { taskId: task.taskId, refusedBy: ['a'], slot }, delaySeconds: 8 },
    ]);
    world.clock.now = slot.at;
    await startGeneration(world.deps, { taskId: task.taskId, refusedBy: ['a'], slot });
    expect(world.upstreams.a?.attempts).toHaveLength(1);
    expect(submittedTo(world).b).toEqual([task.taskId]);
  });

  it('waits for an open circuit rather than failing when the only other upstream refused it for good', async () => {
    const { world, key } = await pool([{ name: 'a' }, { name: 'b', priority: 1 }]);
    await world.circuits.put('b', { failures: 3, openedAt: world.clock.now }, undefined);
    world.upstreams.a?.failures.push(new Error('a answered HTTP 400'));
    const task = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: task.taskId });
    expect((await world.tasks.get(task.taskId))?.status).toBe('queued');
    expect(world.queues.generated).toEqual([
      { message: { taskId: task.taskId, attempt: 1, refusedBy: ['a'] }, delaySeconds: 30 },
    ]);
  });

  it('ends the task (refunded) when the only upstream refuses it for good, as one upstream always did', async () => {
    const { world, key } = await pool([{ name: 'only' }]);
    world.upstreams.only?.failures.push(new Error('only answered HTTP 400'));
    const task = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: task.taskId });
    expect(await world.tasks.get(task.taskId)).toMatchObject({ status: 'failed', errorCode: 501 });
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(100_000);
  });
});

describe("an upstream's circuit", () => {
  it('opens after consecutive unavailability, sends new work elsewhere, probes after the cool-down and closes', async () => {
    const { world, key } = await pool([{ name: 'a' }, { name: 'b', priority: 1 }], {
      threshold: 2,
      coolDownMs: 30_000,
    });
    const a = world.upstreams.a;
    if (!a) throw new Error('no a');
    a.failures.push(new UpstreamUnavailableError('503'), new UpstreamUnavailableError('503'));
    const first = await seedTask(world, key);
    const second = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: first.taskId });
    await startGeneration(world.deps, { taskId: second.taskId });
    expect((await world.circuits.get('a')).state).toMatchObject({ failures: 2, openedAt: world.clock.now });
    expect(world.metrics.counts).toContainEqual({
      name: 'UpstreamCircuitOpened',
      dimensions: { upstream: 'a' },
    });

    // Open: a is not even tried.
    const third = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: third.taskId });
    expect(a.attempts).toHaveLength(2);
    expect(submittedTo(world).b).toEqual([first.taskId, second.taskId, third.taskId]);

    // After the cool-down one probe goes to a; it succeeds and the circuit closes.
    world.clock.now += 30_000;
    const probe = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: probe.taskId });
    expect(submittedTo(world).a).toEqual([probe.taskId]);
    expect((await world.circuits.get('a')).state).toEqual({ failures: 0 });
  });

  it('counts a 429 toward the circuit only where our own submits do not explain it', async () => {
    const tooMany = () => new UpstreamUnavailableError('a answered HTTP 429', { rateLimited: true });
    const limited = async () => {
      const { world, key } = await pool(
        [
          { name: 'a', quota: quota('a', 2) },
          { name: 'b', priority: 1 },
        ],
        { threshold: 1, coolDownMs: 30_000 },
      );
      const a = world.upstreams.a;
      if (!a) throw new Error('no a');
      const generate = async () =>
        startGeneration(world.deps, { taskId: (await seedTask(world, key)).taskId });
      return { world, a, generate };
    };
    // Idle, a refuses a submit for its rate: someone else uses its quota. Counted: the circuit opens.
    const idle = await limited();
    idle.a.failures.push(tooMany());
    await idle.generate();
    expect((await idle.world.circuits.get('a')).state.openedAt).toBe(idle.world.clock.now);

    // Just past a window our own two submits filled: the next one's 429 is our timing at its edge.
    const busy = await limited();
    await busy.generate();
    await busy.generate();
    busy.world.clock.now += 10_000 + upstreamMarginOf(10_000) + submitLeadMs;
    busy.a.failures.push(tooMany());
    await busy.generate();
    expect(busy.a.attempts).toHaveLength(3);
    expect((await busy.world.circuits.get('a')).state).toEqual({ failures: 0 });
    expect(busy.world.log.lines.map((l) => l.message)).toContain(
      'upstream quota refused a submit at the edge of our own window',
    );
  });

  it("counts a poll that finds the task's upstream unavailable toward its circuit; open, new work goes elsewhere", async () => {
    const { world, key } = await pool([{ name: 'a' }, { name: 'b', priority: 1 }], {
      threshold: 2,
      coolDownMs: 30_000,
    });
    const a = world.upstreams.a;
    if (!a) throw new Error('no a');
    const running = await seedTask(world, key, 'submitted', { operation: 'operations/1', upstream: 'a' });
    const message = {
      taskId: running.taskId,
      operation: 'operations/1',
      deadlineAt: running.deadlineAt,
      upstream: 'a',
    };
    a.pollFailures.push(new UpstreamUnavailableError('503'));
    await pollGeneration(world.deps, message);
    expect((await world.circuits.get('a')).state).toEqual({ failures: 1 });
    a.pollFailures.push(new UpstreamUnavailableError('503'));
    await pollGeneration(world.deps, message);
    expect((await world.circuits.get('a')).state).toMatchObject({ failures: 2, openedAt: world.clock.now });
    // The running task only waits: asked again later, it is not failed by the outage.
    expect((await world.tasks.get(running.taskId))?.status).toBe('submitted');

    const next = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: next.taskId });
    expect(a.attempts).toHaveLength(0);
    expect(submittedTo(world).b).toEqual([next.taskId]);
  });

  it('while an upstream is out, waits for the earlier of its return and a slot elsewhere, reserving none', async () => {
    const { world, key } = await pool(
      [
        { name: 'a', priority: 0 },
        { name: 'b', priority: 1, quota: quota('b', 1) },
      ],
      { threshold: 1, coolDownMs: 20_000 },
    );
    world.upstreams.a?.failures.push(new UpstreamUnavailableError('503'));
    // a refuses the first task (its circuit opens); the task goes on to b and takes b's one slot.
    const first = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: first.taskId });
    expect(submittedTo(world)).toEqual({ a: [], b: [first.taskId] });
    // The second: a out for 20 s, b full for 10 s and our margin. No reservation in b (a's probe must find
    // work when it returns): it waits for b's slot, the earlier.
    const second = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: second.taskId });
    expect(world.queues.reservations).toEqual([]);
    expect(world.tasks.windows.get('b')?.grants).toHaveLength(1);
    const freeInMs = (world.tasks.windows.get('b')?.grants[0] ?? 0) + 10_000 + upstreamMarginOf(10_000);
    expect(world.queues.generated.at(-1)).toEqual({
      message: { taskId: second.taskId, attempt: 1 },
      delaySeconds: Math.ceil((freeInMs - world.clock.now) / 1000),
    });
    expect(Math.ceil((freeInMs - world.clock.now) / 1000)).toBeLessThan(20);
  });

  it('waits in the queue, without failing, while every upstream that can make it is open', async () => {
    const { world, key } = await pool([{ name: 'a' }], { threshold: 1, coolDownMs: 20_000 });
    world.upstreams.a?.failures.push(new UpstreamUnavailableError('503'));
    const task = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: task.taskId });
    expect(world.queues.generated).toHaveLength(1);
    world.clock.now += 5_000;
    await startGeneration(world.deps, { taskId: task.taskId, attempt: 1 });
    expect(world.upstreams.a?.attempts).toHaveLength(1);
    expect(world.queues.generated[1]).toEqual({
      message: { taskId: task.taskId, attempt: 2 },
      delaySeconds: 15,
    });
    expect((await world.tasks.get(task.taskId))?.status).toBe('queued');
  });
});

describe('pinning', () => {
  it("polls and downloads from the task's own upstream, whatever account signed the push that woke it", async () => {
    const { world, key } = await pool([{ name: 'a' }, { name: 'b', priority: 1 }]);
    const task = await seedTask(world, key, 'submitted', { operation: 'operations/7', upstream: 'b' });
    const b = world.upstreams.b;
    const a = world.upstreams.a;
    if (!a || !b) throw new Error('no upstreams');
    // A push is verified with the secrets of the pool's upstreams (no task read per push); one signed by
    // another account only makes the task poll early: the poll asks the task's own upstream.
    a.pushesValid = false;
    expect(await acceptPush(world.deps, task.taskId, 'operations/7', {})).toBe(true);
    b.pushesValid = false;
    expect(await acceptPush(world.deps, task.taskId, 'operations/7', {})).toBe(false);
    a.pushesValid = true;
    expect(await acceptPush(world.deps, task.taskId, 'operations/7', {})).toBe(true);

    b.answers.push({ state: 'done', videos: ['video-from-b'] });
    a.answers.push({ state: 'failed', reason: 'asked the wrong upstream' });
    await pollGeneration(world.deps, { taskId: task.taskId });
    expect(await world.tasks.get(task.taskId)).toMatchObject({ status: 'succeeded', upstream: 'b' });
    expect(a.answers).toHaveLength(1);
  });

  it("sends a kie task's extension to the same kie account, a Google one anywhere that can", async () => {
    const { world, key } = await pool([
      { name: 'kie-a', provider: 'kie', quota: quota('kie-a', 1) },
      { name: 'kie-b', provider: 'kie', quota: quota('kie-b', 9) },
    ]);
    const source = await seedTask(world, key, 'succeeded', { operation: 'kie-task-1', upstream: 'kie-a' });
    const extension = await seedTask(world, key, 'queued', { extendsTaskId: source.taskId });
    world.tasks.windows.set('kie-a', { grants: [world.clock.now] });
    await startGeneration(world.deps, { taskId: extension.taskId });
    // kie-b has room, but only kie-a knows the source: the extension waits for kie-a's slot.
    expect(world.upstreams['kie-b']?.attempts).toHaveLength(0);
    const { message } = world.queues.reservations[0] ?? {};
    expect(message?.slot?.scope).toBe('kie-a');
    world.clock.now = message?.slot?.at ?? 0;
    await startGeneration(world.deps, { taskId: extension.taskId, ...message });
    expect(submittedTo(world)['kie-a']).toEqual([extension.taskId]);
  });
});

describe('a generation that fails after the upstream accepted it', () => {
  async function failedOn(failover: boolean) {
    const { world, key } = await pool([{ name: 'a' }, { name: 'b', priority: 1 }]);
    world.deps.settings = { ...world.deps.settings, failoverMidGeneration: failover };
    const task = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: task.taskId });
    world.upstreams.a?.answers.push({ state: 'failed', reason: 'internal error' });
    await pollGeneration(world.deps, { taskId: task.taskId });
    return { world, key, task };
  }

  it('ends as before unless FAILOVER_MID_GENERATION is on (the first upstream may bill it)', async () => {
    const { world, key, task } = await failedOn(false);
    expect(await world.tasks.get(task.taskId)).toMatchObject({ status: 'failed', errorCode: 501 });
    expect((await world.apiKeys.get(key.keyHash))?.credits).toBe(100_000);
    expect(world.upstreams.b?.attempts).toHaveLength(0);
  });

  it('with it on, starts again on another upstream, never back on the one that failed', async () => {
    const { world, task } = await failedOn(true);
    expect(await world.tasks.get(task.taskId)).toMatchObject({ status: 'queued', failedUpstreams: ['a'] });
    expect(world.queues.generated.at(-1)).toEqual({ message: { taskId: task.taskId } });
    await startGeneration(world.deps, { taskId: task.taskId });
    expect(submittedTo(world)).toEqual({ a: [task.taskId], b: [task.taskId] });
    expect(await world.tasks.get(task.taskId)).toMatchObject({ status: 'submitted', upstream: 'b' });
    // b fails it too: nowhere left, so it ends (refunded).
    world.upstreams.b?.answers.push({ state: 'failed', reason: 'internal error' });
    await pollGeneration(world.deps, { taskId: task.taskId });
    expect(await world.tasks.get(task.taskId)).toMatchObject({ status: 'failed' });
  });

  it('never moves a content rejection', async () => {
    const { world, key } = await pool([{ name: 'a' }, { name: 'b', priority: 1 }]);
    world.deps.settings = { ...world.deps.settings, failoverMidGeneration: true };
    const task = await seedTask(world, key);
    await startGeneration(world.deps, { taskId: task.taskId });
    world.upstreams.a?.answers.push({ state: 'rejected', reason: 'prompt blocked' });
    await pollGeneration(world.deps, { taskId: task.taskId });
    expect(await world.tasks.get(task.taskId)).toMatchObject({ status: 'rejected', errorCode: 422 });
    expect(world.upstreams.b?.attempts).toHaveLength(0);
  });
});
