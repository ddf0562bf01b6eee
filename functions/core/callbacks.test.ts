import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { callbackBody, signCallback } from './callbacks';
import { generateRequestSchema } from './schema';
import { newTask, type Task } from './task';

const request = generateRequestSchema({ allowLoopback: false, allowHttp: false }).parse({ prompt: 'a cat' });
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

describe('client callbacks', () => {
  it("signs taskId.timestamp with the key's webhook secret, as kie.ai does", () => {
    const expected = createHmac('sha256', 'whsec_test').update(`${base.taskId}.1700000000`).digest('base64');
    expect(signCallback('whsec_test', base.taskId, 1_700_000_000)).toBe(expected);
    expect(signCallback('other', base.taskId, 1_700_000_000)).not.toBe(expected);
  });

  it('sends the success shape with the result URLs', () => {
    const task: Task = {
      ...base,
      status: 'succeeded',
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
