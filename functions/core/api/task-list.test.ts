import { describe, expect, it } from 'vitest';
import { addKey, seedTask, type TestWorld, testWorld, thrown } from '../../../test/support/test-deps';
import type { ApiKey } from '../ports';
import type { Task } from '../task';
import { encodeCursor, listTasks } from './task-list';

/** `count` tasks of `key`, one a second apart, oldest first. */
async function tasksOf(world: TestWorld, key: ApiKey, count: number): Promise<Task[]> {
  const made: Task[] = [];
  for (let i = 0; i < count; i++) {
    made.push(
      await seedTask(world, key, i % 2 === 0 ? 'succeeded' : 'queued', { body: { prompt: `task ${i}` } }),
    );
    world.clock.now += 1000;
  }
  return made;
}

describe('GET /veo/tasks', () => {
  it("pages through the caller's own tasks newest first, as compact records", async () => {
    const world = testWorld();
    const [key, other] = [await addKey(world), await addKey(world)];
    const mine = await tasksOf(world, key, 5);
    await tasksOf(world, other, 2);

    const first = await listTasks(world.deps, key, { limit: '2' });
    expect(first.tasks.map((t) => t.prompt)).toEqual(['task 4', 'task 3']);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await listTasks(world.deps, key, { limit: '2', cursor: first.nextCursor ?? '' });
    expect(second.tasks.map((t) => t.prompt)).toEqual(['task 2', 'task 1']);
    const third = await listTasks(world.deps, key, { limit: '2', cursor: second.nextCursor ?? '' });
    expect(third.tasks.map((t) => t.prompt)).toEqual(['task 0']);
    expect(third.nextCursor).toBeNull();

    const newest = mine[4];
    if (!newest) throw new Error('no task');
    expect(first.tasks[0]).toEqual({
      taskId: newest.taskId,
      createTime: newest.createdAt,
      completeTime: newest.completedAt,
      successFlag: 1,
      state: 'success',
      model: 'veo3_fast',
      aspectRatio: '16:9',
      prompt: 'task 4',
      resultUrls: [await world.videos.url(newest.results?.[0]?.key ?? '')],
      failMsg: null,
    });
    expect(first.tasks[1]).toMatchObject({ successFlag: 0, state: 'waiting', resultUrls: null });
  });

  it('leaves out tasks older than the retention', async () => {
    const world = testWorld({ retentionDays: 1 });
    const key = await addKey(world);
    await tasksOf(world, key, 1);
    world.clock.now += 86_400_000;
    await tasksOf(world, key, 1);
    const page = await listTasks(world.deps, key, {});
    expect(page.tasks.map((t) => t.prompt)).toEqual(['task 0']);
    expect(page.tasks).toHaveLength(1);
  });

  it("refuses a cursor that is not the caller's own, or not a cursor, with 422", async () => {
    const world = testWorld();
    const [key, other] = [await addKey(world), await addKey(world)];
    const [theirs] = await tasksOf(world, other, 1);
    if (!theirs) throw new Error('no task');
    const foreign = encodeCursor({
      taskId: theirs.taskId,
      keyHash: other.keyHash,
      createdAt: theirs.createdAt,
    });
    const answers = [
      await thrown(listTasks(world.deps, key, { cursor: foreign })),
      await thrown(listTasks(world.deps, key, { cursor: 'bm90LWpzb24' })),
      await thrown(listTasks(world.deps, key, { limit: '0' })),
    ].map((e) => [e.code, e.message]);
    expect(answers).toEqual([
      [422, 'cursor is not valid'],
      [422, 'cursor is not valid'],
      [422, 'limit must be a whole number from 1 to 100'],
    ]);
  });
});
