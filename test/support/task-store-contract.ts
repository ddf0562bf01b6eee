import { randomInt, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ApiKeyRefusedError,
  IdempotencyConflictError,
  InsufficientCreditsError,
  RateLimitedError,
} from '../../functions/core/errors';
import type { ApiKeyStore, IdempotencyRecord, TaskStore } from '../../functions/core/ports';
import type { RateWindow } from '../../functions/core/rate-window';
import { generateRequestSchema } from '../../functions/core/schema';
import { newTask, type RenditionJob, type Task } from '../../functions/core/task';

/** A store under test and the API keys table its charges and refunds move credits on. */
export interface TaskStoreUnderTest {
  store: TaskStore;
  keys: ApiKeyStore;
}

const request = generateRequestSchema({ allowLoopback: false, allowHttp: false }).parse({ prompt: 'a cat' });

/**
 * TaskStore's documented behaviour (functions/core/ports.ts), as vitest tests: every implementation
 * (the in-memory one unit tests use, DynamoTaskStore on DynamoDB Local) registers the same suite, so
 * the fake cannot drift from the real store. `make` is called once per test; tests share the store's
 * tables but no key, task or rate-window scope.
 */
/** What a transition that took a slot answers: when the slot is. */
const granted = { slotAt: expect.any(Number) };

export function taskStoreContract(name: string, make: () => TaskStoreUnderTest): void {
  describe(`TaskStore contract: ${name}`, () => {
    /** A fresh key holding `credits`, and helpers over it. */
    async function setup(credits = 1000, revoked = false) {
      const { store, keys } = make();
      const keyHash = `contract-${randomUUID()}`;
      await keys.put({ keyHash, name: 'contract', credits, webhookSecret: 'whsec_x', revoked });
      const balance = async () => (await keys.get(keyHash))?.credits;
      const task = (createdAt = Date.now(), extra: Partial<Task> = {}): Task => ({
        ...newTask({
          request,
          paramJson: '{"prompt":"a cat"}',
          keyHash,
          credits: 60,
          provider: 'simulator',
          now: createdAt,
          retentionDays: 14,
          budgetSeconds: 600,
        }),
        ...extra,
      });
      /** A task written and charged, moved to `succeeded` with one stored video. */
      const succeeded = async () => {
        const t = task();
        await store.createCharged(t, { keyHash, credits: t.credits });
        const results = [
          { key: `videos/${t.taskId}/0.mp4`, originKey: `videos/${t.taskId}/0.mp4`, resolution: '720p' },
        ];
        expect(await store.transition(t.taskId, 'queued', { status: 'succeeded', results })).toBe(true);
        return t;
      };
      return { store, keys, keyHash, balance, task, succeeded };
    }

    const window = (limit: number, windowMs = 60_000): RateWindow => ({
      scope: `contract-${randomUUID()}`,
      limit,
      windowMs,
    });

    describe('createCharged', () => {
      it('writes the task and takes its credits from the key', async () => {
        const { store, keyHash, balance, task } = await setup(100);
        const t = task();
        await store.createCharged(t, { keyHash, credits: 60 });
        expect(await store.get(t.taskId)).toEqual(t);
        expect(await balance()).toBe(40);
      });

      it('refuses a key short of credits with its balance, writing nothing', async () => {
        const { store, keyHash, balance, task } = await setup(50);
        const t = task();
        const error = await store.createCharged(t, { keyHash, credits: 60 }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InsufficientCreditsError);
        expect((error as InsufficientCreditsError).balance).toBe(50);
        expect(await store.get(t.taskId)).toBeUndefined();
        expect(await balance()).toBe(50);
      });

      it('refuses a revoked key and an unknown one, writing nothing', async () => {
        const { store, keyHash, balance, task } = await setup(100, true);
        const t = task();
        await expect(store.createCharged(t, { keyHash, credits: 60 })).rejects.toBeInstanceOf(
          ApiKeyRefusedError,
        );
        await expect(
          store.createCharged(t, { keyHash: `gone-${randomUUID()}`, credits: 0 }),
        ).rejects.toBeInstanceOf(ApiKeyRefusedError);
        expect(await store.get(t.taskId)).toBeUndefined();
        expect(await balance()).toBe(100);
      });

      it('writes the idempotency record with the task; a second use of the key writes and charges nothing', async () => {
        const { store, keyHash, balance, task } = await setup(1000);
        const first = task();
        const record: IdempotencyRecord = {
          keyHash,
          idempotencyKey: 'retry-1',
          bodyHash: 'hash-a',
          taskId: first.taskId,
          expiresAt: Math.floor(first.createdAt / 1000) + 86_400,
        };
        await store.createCharged(first, { keyHash, credits: 60 }, { idempotency: record });
        expect(await store.findIdempotency(keyHash, 'retry-1', Date.now())).toEqual(record);

        const second = task();
        const error = await store
          .createCharged(
            second,
            { keyHash, credits: 60 },
            { idempotency: { ...record, bodyHash: 'hash-b', taskId: second.taskId } },
          )
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(IdempotencyConflictError);
        expect((error as IdempotencyConflictError).existing).toEqual({
          bodyHash: 'hash-a',
          taskId: first.taskId,
        });
        expect(await store.get(second.taskId)).toBeUndefined();
        expect(await balance()).toBe(940);
        expect(await store.findIdempotency(keyHash, 'retry-1', Date.now())).toEqual(record);
      });

      it('lets an expired idempotency record be replaced', async () => {
        const { store, keyHash, task } = await setup(1000);
        const first = task();
        const expired = {
          keyHash,
          idempotencyKey: 'old',
          bodyHash: 'hash-a',
          taskId: first.taskId,
          expiresAt: Math.floor(first.createdAt / 1000) - 10,
        };
        await store.createCharged(first, { keyHash, credits: 60 }, { idempotency: expired });
        expect(await store.findIdempotency(keyHash, 'old', Date.now())).toBeUndefined();

        const second = task();
        const fresh = {
          ...expired,
          bodyHash: 'hash-b',
          taskId: second.taskId,
          expiresAt: expired.expiresAt + 86_400,
        };
        await store.createCharged(second, { keyHash, credits: 60 }, { idempotency: fresh });
        expect(await store.findIdempotency(keyHash, 'old', Date.now())).toEqual(fresh);
      });

      it('takes a slot of the rate window; a full window refuses with when the next frees, writing nothing', async () => {
        const { store, keyHash, balance, task } = await setup(1000);
        const rate = window(2);
        await store.createCharged(task(), { keyHash, credits: 60 }, { rate });
        await store.createCharged(task(), { keyHash, credits: 60 }, { rate });
        const third = task();
        const error = await store
          .createCharged(third, { keyHash, credits: 60 }, { rate })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RateLimitedError);
        const { retryAfterMs } = error as RateLimitedError;
        expect(retryAfterMs).toBeGreaterThan(50_000);
        expect(retryAfterMs).toBeLessThanOrEqual(60_000);
        expect(await store.get(third.taskId)).toBeUndefined();
        expect(await balance()).toBe(880);
      });

      it('frees the slot once the window has passed', async () => {
        const { store, keyHash, task } = await setup(1000);
        // Long enough that a loaded machine still refuses the second inside it.
        const rate = window(1, 3000);
        await store.createCharged(task(), { keyHash, credits: 0 }, { rate });
        const refused = await store
          .createCharged(task(), { keyHash, credits: 0 }, { rate })
          .catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(RateLimitedError);
        await new Promise((done) => setTimeout(done, (refused as RateLimitedError).retryAfterMs + 50));
        const later = task();
        await store.createCharged(later, { keyHash, credits: 0 }, { rate });
        expect((await store.get(later.taskId))?.status).toBe('queued');
      });

      it('takes no slot when the charge is refused', async () => {
        const { store, keyHash, task } = await setup(10);
        const rate = window(1);
        await expect(store.createCharged(task(), { keyHash, credits: 60 }, { rate })).rejects.toBeInstanceOf(
          InsufficientCreditsError,
        );
        const paid = task();
        await store.createCharged(paid, { keyHash, credits: 10 }, { rate });
        expect(await store.get(paid.taskId)).toBeDefined();
      });
    });

    describe('findIdempotency', () => {
      it("finds only the key's own record, and none for an unused key", async () => {
        const { store, keyHash, task } = await setup();
        const t = task();
        const record = {
          keyHash,
          idempotencyKey: 'k',
          bodyHash: 'h',
          taskId: t.taskId,
          expiresAt: Math.floor(t.createdAt / 1000) + 3600,
        };
        await store.createCharged(t, { keyHash, credits: 0 }, { idempotency: record });
        expect(await store.findIdempotency(`other-${randomUUID()}`, 'k', Date.now())).toBeUndefined();
        expect(await store.findIdempotency(keyHash, 'unused', Date.now())).toBeUndefined();
        // Past its expiry it no longer counts, even before anything removes it.
        expect(await store.findIdempotency(keyHash, 'k', (record.expiresAt + 1) * 1000)).toBeUndefined();
      });
    });

    describe('get and getWithOwner', () => {
      it('reads a task and its owner together; unknown ones are undefined', async () => {
        const { store, keys, keyHash, task } = await setup(500);
        const t = task();
        await store.createCharged(t, { keyHash, credits: 60 });
        const both = await store.getWithOwner(t.taskId, keyHash);
        expect(both.task).toEqual(t);
        expect(both.owner).toEqual(await keys.get(keyHash));
        expect(both.owner?.credits).toBe(440);

        const none = await store.getWithOwner(`veo_${randomUUID()}`, `gone-${randomUUID()}`);
        expect(none.task).toBeUndefined();
        expect(none.owner).toBeUndefined();
        expect(await store.get(`veo_${randomUUID()}`)).toBeUndefined();
      });
    });

    describe('listByKey', () => {
      it("pages through the key's own tasks newest first, after `createdAfter`", async () => {
        const { store, keyHash, task } = await setup();
        const other = await setup();
        const start = Date.now();
        const mine = [0, 1, 2, 3, 4].map((i) => task(start + i * 1000));
        for (const t of mine) await store.createCharged(t, { keyHash, credits: 0 });
        await other.store.createCharged(other.task(start + 2500), { keyHash: other.keyHash, credits: 0 });

        const seen: string[][] = [];
        let page = await store.listByKey(keyHash, 2);
        seen.push(page.tasks.map((t) => t.taskId));
        while (page.next) {
          expect(page.next.keyHash).toBe(keyHash);
          page = await store.listByKey(keyHash, 2, page.next);
          seen.push(page.tasks.map((t) => t.taskId));
        }
        const newestFirst = [...mine].reverse().map((t) => t.taskId);
        expect(seen.slice(0, 3)).toEqual([
          newestFirst.slice(0, 2),
          newestFirst.slice(2, 4),
          newestFirst.slice(4),
        ]);
        expect(seen.flat()).toEqual(newestFirst);
        // A short page is the last.
        expect(page.next).toBeUndefined();

        const recent = await store.listByKey(keyHash, 10, undefined, start + 1000);
        expect(recent.tasks.map((t) => t.taskId)).toEqual(newestFirst.slice(0, 3));
        expect(recent.next).toBeUndefined();
        expect(recent.tasks[0]).toEqual(mine[4]);
      });
    });

    describe('transition', () => {
      it('moves a task only from the expected status, applying the patch', async () => {
        const { store, keyHash, task } = await setup();
        const t = task();
        await store.createCharged(t, { keyHash, credits: 0 });
        expect(
          await store.transition(t.taskId, 'queued', { status: 'submitting', updatedAt: t.createdAt + 1 }),
        ).toBe(true);
        // A redelivered message finds the task moved on: nothing is written.
        expect(await store.transition(t.taskId, 'queued', { status: 'failed', errorCode: 500 })).toBe(false);
        expect(await store.get(t.taskId)).toEqual({ ...t, status: 'submitting', updatedAt: t.createdAt + 1 });
        expect(await store.transition(`veo_${randomUUID()}`, 'queued', { status: 'failed' })).toBe(false);
      });

      it('updates in place, and leaves fields the patch has as undefined untouched', async () => {
        const { store, keyHash, task } = await setup();
        const t = task(Date.now(), { operation: 'op-1' });
        await store.createCharged(t, { keyHash, credits: 0 });
        expect(await store.transition(t.taskId, 'queued', { polls: 3, operation: undefined })).toBe(true);
        expect(await store.get(t.taskId)).toEqual({ ...t, polls: 3 });
      });

      it('refunds in the same write, and only when the task moved', async () => {
        const { store, keyHash, balance, task } = await setup(100);
        const t = task();
        await store.createCharged(t, { keyHash, credits: 60 });
        const refund = { keyHash, credits: 60 };
        expect(await store.transition(t.taskId, 'queued', { status: 'cancelled' }, { refund })).toBe(true);
        expect(await balance()).toBe(100);
        expect(await store.transition(t.taskId, 'queued', { status: 'cancelled' }, { refund })).toBe(false);
        expect(await balance()).toBe(100);
      });

      it('takes a slot of the window with the move; a full window refuses and nothing moves', async () => {
        const { store, keyHash, balance, task } = await setup(100);
        const slot = window(1);
        const first = task();
        const second = task();
        await store.createCharged(first, { keyHash, credits: 0 });
        await store.createCharged(second, { keyHash, credits: 60 });
        expect(await store.transition(first.taskId, 'queued', { status: 'submitting' }, { slot })).toEqual(
          granted,
        );
        const error = await store
          .transition(
            second.taskId,
            'queued',
            { status: 'failed' },
            { refund: { keyHash, credits: 60 }, slot },
          )
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RateLimitedError);
        expect((error as RateLimitedError).retryAfterMs).toBeGreaterThan(50_000);
        expect((await store.get(second.taskId))?.status).toBe('queued');
        expect(await balance()).toBe(40);
      });

      it('takes no slot when the task had moved already', async () => {
        const { store, keyHash, task } = await setup();
        const slot = window(1);
        const t = task();
        await store.createCharged(t, { keyHash, credits: 0 });
        expect(await store.transition(t.taskId, 'submitted', { status: 'succeeded' }, { slot })).toBe(false);
        expect(await store.transition(t.taskId, 'queued', { status: 'submitting' }, { slot })).toEqual(
          granted,
        );
      });
    });

    describe('reserveSlot', () => {
      it("reserves a queued task the window's earliest free slot, one per task, none past `until`", async () => {
        const { store, keyHash, task } = await setup();
        const slot = window(1);
        const [first, second, third] = [task(), task(), task()];
        for (const t of [first, second, third]) await store.createCharged(t, { keyHash, credits: 0 });
        const before = Date.now();
        expect(await store.transition(first.taskId, 'queued', { status: 'submitting' }, { slot })).toEqual(
          granted,
        );
        const after = Date.now();
        // The slot the first grant frees, a window later; the task stays queued.
        const reserved = await store.reserveSlot(second.taskId, [slot], after + 120_000);
        expect(reserved?.scope).toBe(slot.scope);
        expect(reserved?.at).toBeGreaterThanOrEqual(before + 60_000);
        expect(reserved?.at).toBeLessThanOrEqual(after + 60_000);
        expect((await store.get(second.taskId))?.status).toBe('queued');
        // The next is a window after that: past `until`, refused with how long until it.
        const refused = await store
          .reserveSlot(third.taskId, [slot], after + 90_000)
          .catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(RateLimitedError);
        expect((refused as RateLimitedError).retryAfterMs).toBeGreaterThan(110_000);
        // A slot taken now is refused too: the window and the reservation hold it.
        const now = await store
          .transition(third.taskId, 'queued', { status: 'submitting' }, { slot })
          .catch((e: unknown) => e);
        expect(now).toBeInstanceOf(RateLimitedError);
      });

      it('reserves on whichever of several windows frees first', async () => {
        const { store, keyHash, task } = await setup();
        const [slow, fast] = [window(1, 60_000), window(1, 5_000)];
        const [a, b, c] = [task(), task(), task()];
        for (const t of [a, b, c]) await store.createCharged(t, { keyHash, credits: 0 });
        await store.transition(a.taskId, 'queued', { status: 'submitting' }, { slot: slow });
        await store.transition(b.taskId, 'queued', { status: 'submitting' }, { slot: fast });
        const reserved = await store.reserveSlot(c.taskId, [slow, fast], Date.now() + 120_000);
        expect(reserved?.scope).toBe(fast.scope);
        expect(reserved?.at).toBeLessThan(Date.now() + 5_001);
      });

      it('reserves nothing for a task that has moved', async () => {
        const { store, keyHash, task } = await setup();
        const slot = window(1);
        const [gone, next] = [task(), task()];
        for (const t of [gone, next]) await store.createCharged(t, { keyHash, credits: 0 });
        await store.transition(gone.taskId, 'queued', { status: 'cancelled' });
        expect(await store.reserveSlot(gone.taskId, [slot], Date.now() + 120_000)).toBeUndefined();
        // The window is as it was: its one slot is still free now.
        expect(await store.transition(next.taskId, 'queued', { status: 'submitting' }, { slot })).toEqual(
          granted,
        );
      });

      it('gives back a reservation in the same write as the next: the slot is not lost', async () => {
        const { store, keyHash, task } = await setup();
        const slot = window(1);
        const [first, second] = [task(), task()];
        for (const t of [first, second]) await store.createCharged(t, { keyHash, credits: 0 });
        await store.transition(first.taskId, 'queued', { status: 'submitting' }, { slot });
        const until = Date.now() + 300_000;
        const reserved = await store.reserveSlot(second.taskId, [slot], until);
        if (!reserved) throw new Error('not reserved');
        // Reserving again while giving the first back gets the same slot, not the one after it.
        const again = await store.reserveSlot(second.taskId, [{ ...slot, release: reserved.at }], until);
        expect(again).toEqual(reserved);
        // Without giving it back, the next is a window later.
        const more = await store.reserveSlot(second.taskId, [slot], until);
        expect(more?.at).toBe(reserved.at + 60_000);
      });

      it("moves a submitting task's slot ahead in one write, only while it is submitting", async () => {
        const { store, keyHash, task } = await setup();
        const slot = window(1);
        const [late, queued] = [task(), task()];
        for (const t of [late, queued]) await store.createCharged(t, { keyHash, credits: 0 });
        const claimed = await store.transition(late.taskId, 'queued', { status: 'submitting' }, { slot });
        if (typeof claimed !== 'object') throw new Error('no slot');
        const ahead = Date.now() + 500;
        // Its own slot given back, the window's one slot is free again a moment ahead: it is that one.
        const moved = await store.reserveSlot(
          late.taskId,
          [{ ...slot, at: ahead, release: claimed.slotAt }],
          ahead + 1000,
          'submitting',
        );
        expect(moved?.at).toBeGreaterThanOrEqual(ahead);
        expect(moved?.at).toBeLessThanOrEqual(ahead + 1000);
        expect((await store.get(late.taskId))?.status).toBe('submitting');
        // A task in another status moves nothing (on a window with room), and the window keeps the moved slot.
        expect(
          await store.reserveSlot(queued.taskId, [{ ...window(1), at: ahead }], ahead + 1000, 'submitting'),
        ).toBeUndefined();
        const taken = await store
          .transition(queued.taskId, 'queued', { status: 'submitting' }, { slot })
          .catch((e: unknown) => e);
        expect(taken).toBeInstanceOf(RateLimitedError);
      });

      it('carries the reservation anchored on a late slot with it; its holder finds it by slotTime', async () => {
        const { store, keyHash, task } = await setup();
        const slot = window(1);
        const [late, next, last] = [task(), task(), task()];
        for (const t of [late, next, last]) await store.createCharged(t, { keyHash, credits: 0 });
        const claimed = await store.transition(late.taskId, 'queued', { status: 'submitting' }, { slot });
        if (typeof claimed !== 'object') throw new Error('no slot');
        const until = Date.now() + 600_000;
        const reserved = await store.reserveSlot(next.taskId, [slot], until);
        if (!reserved) throw new Error('not reserved');
        const ahead = Date.now() + 500;
        const move = { ...slot, at: ahead, release: claimed.slotAt };
        // Without carrying it, the reservation a window after the slot holds every window a move could use.
        const alone = await store
          .reserveSlot(late.taskId, [move], ahead + 1000, 'submitting')
          .catch((e: unknown) => e);
        expect(alone).toBeInstanceOf(RateLimitedError);
        const moved = await store.reserveSlot(
          late.taskId,
          [{ ...move, carry: true }],
          ahead + 1000,
          'submitting',
        );
        if (!moved) throw new Error('not moved');
        expect(moved.at).toBeGreaterThanOrEqual(ahead);
        expect(moved.at).toBeLessThan(ahead + 1000);
        const carried = reserved.at + (moved.at - claimed.slotAt);
        expect(await store.slotTime(slot.scope, reserved.at)).toBe(carried);
        expect(await store.slotTime(slot.scope, moved.at)).toBe(moved.at);
        // The window stays one per minute: the next reservation is a window after the carried one, and the
        // holder giving its reservation back by the time it was granted gives back the carried slot.
        expect((await store.reserveSlot(last.taskId, [slot], until))?.at).toBe(carried + 60_000);
        const again = await store.reserveSlot(next.taskId, [{ ...slot, release: reserved.at }], until);
        expect(again?.at).toBe(carried);
      });
    });

    describe('the sweep index (dueForSweep, resweep)', () => {
      /** The task's entry among those due before `before`, if listed. */
      const entry = async (store: TaskStore, taskId: string, before: number) =>
        (await store.dueForSweep(before, 1000)).find((e) => e.taskId === taskId);

      it('lists an open task from its creation until its end takes it off, in the same write', async () => {
        const { store, keyHash, task } = await setup();
        const t = task(1_000_000_000 + randomInt(1_000_000_000));
        await store.createCharged(t, { keyHash, credits: 0 });
        expect(await entry(store, t.taskId, t.deadlineAt + 1)).toEqual({
          taskId: t.taskId,
          sweepAt: t.deadlineAt,
          starts: 0,
        });
        expect(await entry(store, t.taskId, t.deadlineAt)).toBeUndefined();
        // The index's bookkeeping stays the store's: reads give the task as written.
        expect(await store.get(t.taskId)).toEqual(t);
        expect(await store.transition(t.taskId, 'queued', { status: 'submitting' })).toBe(true);
        expect(await entry(store, t.taskId, t.deadlineAt + 1)).toBeDefined();
        expect(await store.transition(t.taskId, 'submitting', { status: 'failed' })).toBe(true);
        expect(await entry(store, t.taskId, t.deadlineAt + 1)).toBeUndefined();
      });

      it("moves an open task's sweep time with a transition that names one; a refused one moves nothing", async () => {
        const { store, keyHash, task } = await setup();
        const t = task(1_000_000_000 + randomInt(1_000_000_000));
        await store.createCharged(t, { keyHash, credits: 0 });
        const checkAt = t.deadlineAt - 60_000;
        const moved = { status: 'submitting' as const, awaitedPush: { operation: 'op', until: checkAt } };
        expect(await store.transition(t.taskId, 'queued', moved, { sweepAt: checkAt })).toBe(true);
        expect(await entry(store, t.taskId, checkAt + 1)).toEqual({
          taskId: t.taskId,
          sweepAt: checkAt,
          starts: 0,
        });
        expect(await entry(store, t.taskId, checkAt)).toBeUndefined();
        // Refused (another writer moved it): the sweep time stays too.
        expect(await store.transition(t.taskId, 'queued', { status: 'failed' }, { sweepAt: 5 })).toBe(false);
        expect(await entry(store, t.taskId, checkAt + 1)).toBeDefined();
        // An end takes it off whatever it names.
        expect(await store.transition(t.taskId, 'submitting', { status: 'failed' }, { sweepAt: 5 })).toBe(
          true,
        );
        expect(await entry(store, t.taskId, t.deadlineAt + 1)).toBeUndefined();
        expect(await store.get(t.taskId)).toMatchObject({
          status: 'failed',
          awaitedPush: { until: checkAt },
        });
      });

      it('puts a succeeded task back while renditions run; resweep moves it only from where it stands', async () => {
        const { store, keyHash, succeeded } = await setup();
        const done = await succeeded();
        const far = Date.now() + 10 * 86_400_000;
        expect(await entry(store, done.taskId, far)).toBeUndefined();
        const requestedAt = Date.now();
        const deadlineAt = requestedAt + 3_600_000;
        const job = (index: number, deadline: number): RenditionJob => ({
          resolution: '4k',
          index,
          status: 'processing',
          requestedAt,
          deadlineAt: deadline,
          credits: 0,
        });
        const free = { keyHash, credits: 0 };
        expect(await store.startRendition(done.taskId, '4k_0', job(0, deadlineAt), free)).toBe(true);
        const first = { taskId: done.taskId, sweepAt: deadlineAt, starts: 1 };
        expect(await entry(store, done.taskId, far)).toEqual(first);
        // A later job keeps the earlier deadline, but counts: a resweep that did not see it is refused.
        expect(await store.startRendition(done.taskId, '4k_1', job(1, deadlineAt + 9), free)).toBe(true);
        const second = { ...first, starts: 2 };
        expect(await entry(store, done.taskId, far)).toEqual(second);
        expect(await store.resweep(first)).toBe(false);
        expect(await store.resweep({ ...second, sweepAt: deadlineAt - 1 }, deadlineAt + 9)).toBe(false);
        expect(await store.resweep(second, deadlineAt + 9)).toBe(true);
        const moved = { ...second, sweepAt: deadlineAt + 9 };
        expect(await entry(store, done.taskId, far)).toEqual(moved);
        expect(await store.resweep(moved)).toBe(true);
        expect(await entry(store, done.taskId, far)).toBeUndefined();
        expect(await store.resweep(moved)).toBe(false);
        expect((await store.get(done.taskId))?.renditions?.['4k_0']).toEqual(job(0, deadlineAt));
      });
    });

    describe('stopAwaitingPush', () => {
      it("takes a submitted task's awaited push off once, only for its operation", async () => {
        const { store, keyHash, task } = await setup();
        const t = task();
        await store.createCharged(t, { keyHash, credits: 0 });
        const awaitedPush = { operation: 'op-1', until: t.deadlineAt - 60_000 };
        // Not yet submitted: nothing to take off.
        expect(await store.stopAwaitingPush(t.taskId, 'op-1')).toBe(false);
        const submitted = { status: 'submitted' as const, operation: 'op-1', awaitedPush };
        expect(await store.transition(t.taskId, 'queued', submitted)).toBe(true);
        expect(await store.stopAwaitingPush(t.taskId, 'op-2')).toBe(false);
        expect((await store.get(t.taskId))?.awaitedPush).toEqual(awaitedPush);
        expect(await store.stopAwaitingPush(t.taskId, 'op-1')).toBe(true);
        // The second asker (the sweeper after a push's poll, or the reverse) is refused.
        expect(await store.stopAwaitingPush(t.taskId, 'op-1')).toBe(false);
        const read = await store.get(t.taskId);
        expect(read).toMatchObject({ status: 'submitted', operation: 'op-1' });
        expect(read).not.toHaveProperty('awaitedPush');
        expect(await store.stopAwaitingPush(`veo_${randomUUID()}`, 'op-1')).toBe(false);
      });
    });

    describe('recordCallback', () => {
      const attempt = (n: number) => ({
        at: 1_700_000_000_000 + n,
        event: 'generation',
        attempt: n,
        status: 500,
      });

      it('appends attempts without a chain; false for an unknown task', async () => {
        const { store, keyHash, task } = await setup();
        const t = task();
        await store.createCharged(t, { keyHash, credits: 0 });
        expect(await store.recordCallback(t.taskId, [attempt(1)])).toBe(true);
        expect(await store.recordCallback(t.taskId, [attempt(2), attempt(3)])).toBe(true);
        expect((await store.get(t.taskId))?.callbacks).toEqual([attempt(1), attempt(2), attempt(3)]);
        expect(await store.recordCallback(`veo_${randomUUID()}`, [attempt(1)])).toBe(false);
      });

      it('moves a retry chain only from where it stands, so a duplicate message cannot fork it', async () => {
        const { store, keyHash, task } = await setup();
        const t = task();
        await store.createCharged(t, { keyHash, credits: 0 });
        const started = { attempts: 1, next: 'token-1' };
        expect(await store.recordCallback(t.taskId, [attempt(1)], { key: 'generation', to: started })).toBe(
          true,
        );
        // A second "first" delivery of the same callback.
        expect(await store.recordCallback(t.taskId, [attempt(1)], { key: 'generation', to: started })).toBe(
          false,
        );
        const moved = { attempts: 2, next: 'token-2' };
        expect(
          await store.recordCallback(t.taskId, [attempt(2)], { key: 'generation', from: started, to: moved }),
        ).toBe(true);
        // The message holding the old token is stale now.
        expect(
          await store.recordCallback(t.taskId, [attempt(2)], { key: 'generation', from: started, to: moved }),
        ).toBe(false);
        const ended = { attempts: 3 };
        expect(
          await store.recordCallback(t.taskId, [attempt(3)], { key: 'generation', from: moved, to: ended }),
        ).toBe(true);
        // An ended chain (no next token) cannot be moved on.
        expect(
          await store.recordCallback(t.taskId, [attempt(4)], {
            key: 'generation',
            from: ended,
            to: { attempts: 4 },
          }),
        ).toBe(false);

        const stored = await store.get(t.taskId);
        expect(stored?.callbacks).toEqual([attempt(1), attempt(2), attempt(3)]);
        expect(stored?.callbackChains).toEqual({ generation: ended });
        // Chains of other callbacks are independent.
        expect(
          await store.recordCallback(t.taskId, [], { key: '4k_0', to: { attempts: 1, next: 't' } }),
        ).toBe(true);
      });

      it('starts a chain on a task written before tasks carried callbackChains', async () => {
        const { store, keyHash, task } = await setup();
        const { callbackChains: _, ...older } = task();
        await store.createCharged(older as Task, { keyHash, credits: 0 });
        const to = { attempts: 1, next: 'n' };
        expect(await store.recordCallback(older.taskId, [attempt(1)], { key: 'generation', to })).toBe(true);
        expect((await store.get(older.taskId))?.callbackChains).toEqual({ generation: to });
      });
    });

    describe('startRendition and finishRendition', () => {
      const job = (credits: number): RenditionJob => ({
        resolution: '4k',
        index: 0,
        status: 'processing',
        requestedAt: 1_700_000_000_000,
        credits,
        callBackUrl: 'https://receiver.example.com/4k',
      });

      it('starts a rendition only on a succeeded task, once per slot, charging once', async () => {
        const { store, keyHash, balance, task, succeeded } = await setup(1000);
        const queued = task();
        await store.createCharged(queued, { keyHash, credits: 0 });
        expect(await store.startRendition(queued.taskId, '4k_0', job(120), { keyHash, credits: 120 })).toBe(
          false,
        );

        const done = await succeeded(); // charged 60
        expect(await store.startRendition(done.taskId, '4k_0', job(120), { keyHash, credits: 120 })).toBe(
          true,
        );
        expect(await store.startRendition(done.taskId, '4k_0', job(120), { keyHash, credits: 120 })).toBe(
          false,
        );
        expect(await balance()).toBe(1000 - 60 - 120);
        expect((await store.get(done.taskId))?.renditions).toEqual({ '4k_0': job(120) });
        // Another slot of the same task is its own.
        expect(await store.startRendition(done.taskId, '1080p_0', { ...job(0), resolution: '1080p' })).toBe(
          true,
        );
      });

      it('refuses a charge the key cannot pay, or a revoked key, writing nothing', async () => {
        const { store, keys, keyHash, balance, succeeded } = await setup(100);
        const done = await succeeded(); // 40 left
        const short = await store
          .startRendition(done.taskId, '4k_0', job(120), { keyHash, credits: 120 })
          .catch((e: unknown) => e);
        expect(short).toBeInstanceOf(InsufficientCreditsError);
        expect((short as InsufficientCreditsError).balance).toBe(40);
        expect((await store.get(done.taskId))?.renditions).toEqual({});

        const key = await keys.get(keyHash);
        if (!key) throw new Error('key gone');
        await keys.put({ ...key, revoked: true });
        await expect(
          store.startRendition(done.taskId, '4k_0', job(10), { keyHash, credits: 10 }),
        ).rejects.toBeInstanceOf(ApiKeyRefusedError);
        expect(await balance()).toBe(40);
      });

      it('finishes a processing rendition once, keeping the job; a failure refunds and frees the slot', async () => {
        const { store, keyHash, balance, succeeded } = await setup(1000);
        const done = await succeeded();
        await store.startRendition(done.taskId, '4k_0', job(120), { keyHash, credits: 120 });
        const refund = { keyHash, credits: 120 };
        const failed = { status: 'failed' as const, completedAt: 1_700_000_001_000, error: 'ffmpeg crashed' };
        expect(await store.finishRendition(done.taskId, '4k_0', failed, refund)).toBe(true);
        expect(await store.finishRendition(done.taskId, '4k_0', failed, refund)).toBe(false);
        expect(await balance()).toBe(1000 - 60);
        expect((await store.get(done.taskId))?.renditions?.['4k_0']).toEqual({ ...job(120), ...failed });

        // A failed rendition may be asked for again.
        expect(await store.startRendition(done.taskId, '4k_0', job(120), { keyHash, credits: 120 })).toBe(
          true,
        );
        const ready = { status: 'ready' as const, key: 'videos/x/0-4k.mp4', completedAt: 1_700_000_002_000 };
        expect(await store.finishRendition(done.taskId, '4k_0', ready)).toBe(true);
        expect((await store.get(done.taskId))?.renditions?.['4k_0']).toEqual({ ...job(120), ...ready });
        expect(await store.startRendition(done.taskId, '4k_0', job(120), { keyHash, credits: 120 })).toBe(
          false,
        );
        expect(await store.finishRendition(done.taskId, '1080p_0', ready)).toBe(false);
        expect(await balance()).toBe(1000 - 60 - 120);
      });
    });
  });
}
