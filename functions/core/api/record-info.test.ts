import { describe, expect, it } from 'vitest';
import { addKey, seedTask, testWorld, thrown } from '../../../test/support/test-deps';
import { recordInfo } from './record-info';

describe('GET /veo/record-info', () => {
  it('shows a running task as waiting, its credits consumed, no response yet', async () => {
    const world = testWorld();
    const key = await addKey(world);
    const task = await seedTask(world, key, 'submitted', { body: { prompt: 'a cat', model: 'veo3' } });
    expect(await recordInfo(world.deps, key, { taskId: task.taskId })).toMatchObject({
      taskId: task.taskId,
      paramJson: JSON.stringify({ prompt: 'a cat', model: 'veo3' }),
      createTime: task.createdAt,
      completeTime: null,
      successFlag: 0,
      state: 'waiting',
      response: null,
      errorCode: null,
      creditsConsumed: 400,
      model: 'veo3',
      generationType: 'TEXT_2_VIDEO',
    });
  });

  it('signs the result URLs of a finished task on every read, with its renditions', async () => {
    const world = testWorld();
    const key = await addKey(world);
    const task = await seedTask(world, key, 'succeeded', {
      renditions: {
        '1080p_0': {
          resolution: '1080p',
          index: 0,
          status: 'ready',
          key: 'videos/x/0-1080p.mp4',
          requestedAt: 1,
          credits: 0,
        },
      },
    });
    const video = task.results?.[0]?.key ?? '';
    const record = await recordInfo(world.deps, key, { taskId: task.taskId });
    expect(record).toMatchObject({
      successFlag: 1,
      state: 'success',
      response: {
        taskId: task.taskId,
        resultUrls: [await world.videos.url(video)],
        originUrls: [await world.videos.url(video)],
        fullResultUrls: null,
        resolution: '720p',
      },
      resultJson: JSON.stringify({ resultUrls: [await world.videos.url(video)] }),
      creditsConsumed: 60,
      renditions: [
        {
          resolution: '1080p',
          index: 0,
          status: 'ready',
          resultUrl: await world.videos.url('videos/x/0-1080p.mp4'),
        },
      ],
    });
  });

  it('shows a failed task with its code and reason, nothing consumed', async () => {
    const world = testWorld();
    const key = await addKey(world);
    const task = await seedTask(world, key, 'failed', {
      errorCode: 501,
      errorMessage: 'Generation failed: boom',
    });
    expect(await recordInfo(world.deps, key, { taskId: task.taskId })).toMatchObject({
      successFlag: 2,
      state: 'fail',
      errorCode: 501,
      errorMessage: 'Generation failed: boom',
      failMsg: 'Generation failed: boom',
      creditsConsumed: 0,
      response: null,
    });
  });

  it("answers another key's task, an unknown and a malformed id alike; a missing id names the field", async () => {
    const world = testWorld();
    const [key, stranger] = [await addKey(world), await addKey(world)];
    const task = await seedTask(world, key, 'queued');
    const answers = [
      await thrown(recordInfo(world.deps, stranger, { taskId: task.taskId })),
      await thrown(recordInfo(world.deps, key, { taskId: 'veo_unknown' })),
      await thrown(recordInfo(world.deps, key, { taskId: '../etc/passwd' })),
      await thrown(recordInfo(world.deps, key, {})),
    ].map((e) => [e.code, e.message]);
    expect(answers).toEqual([
      [422, 'record is null'],
      [422, 'record is null'],
      [422, 'record is null'],
      [422, 'taskId is required'],
    ]);
  });

  it('answers a task older than the retention with kie’s message', async () => {
    const world = testWorld({ retentionDays: 14 });
    const key = await addKey(world);
    const task = await seedTask(world, key, 'succeeded');
    world.clock.now += 14 * 86_400_000 + 1;
    const error = await thrown(recordInfo(world.deps, key, { taskId: task.taskId }));
    expect([error.code, error.message]).toEqual([422, 'Temporarily supports records within 14 days']);
  });
});
