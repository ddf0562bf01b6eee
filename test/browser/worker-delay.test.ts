import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Started, startNpm, stopNpm } from './npm-start';

/**
 * `npm start -- --worker-delay SECONDS`: the worker takes a task only after it waited that long, so cancel
 * can be tried locally (without it the worker takes a task within milliseconds). No browser needed.
 */
const delaySeconds = 6;
let started: Started;
let stackDir: string;

beforeAll(async () => {
  stackDir = mkdtempSync(join(tmpdir(), 'veo-worker-delay-'));
  started = await startNpm(join(stackDir, 'local-stack.json'), ['--worker-delay', String(delaySeconds)]);
});

afterAll(async () => {
  await stopNpm(started?.child);
  if (stackDir) rmSync(stackDir, { recursive: true, force: true });
});

interface Answer {
  code: number;
  msg: string;
  data: { taskId?: string; successFlag?: number; createTime?: number; completeTime?: number | null } | null;
}

async function call(path: string, body?: unknown): Promise<Answer> {
  const base = started.playgroundUrl.replace(/\/playground$/, '/api/v1');
  const response = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${started.apiKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await response.json()) as Answer;
}

describe('npm start -- --worker-delay', () => {
  it('says how long the worker waits, and how to cancel', () => {
    expect(started.output).toContain(`The worker takes a task ${delaySeconds} s after it was submitted`);
    expect(started.output).toMatch(/curl -s http:\/\/127\.0\.0\.1:\d+\/api\/v1\/veo\/cancel/);
  });

  it('holds each task for the delay: one is cancelled and refunded within it, the other generated after it', async () => {
    const before = (await call('/chat/credit')).data as unknown as number;
    const [kept, cancelled] = await Promise.all([
      call('/veo/generate', { prompt: 'A kite over the dunes' }),
      call('/veo/generate', { prompt: 'A lighthouse at dusk' }),
    ]);
    const keptId = kept.data?.taskId ?? '';
    const cancelledId = cancelled.data?.taskId ?? '';
    expect([keptId, cancelledId].every((id) => id.startsWith('veo_'))).toBe(true);

    const cancel = await call('/veo/cancel', { taskId: cancelledId });
    expect(cancel).toMatchObject({ code: 200, data: { taskId: cancelledId, successFlag: 2 } });
    const charged = before - ((await call('/chat/credit')).data as unknown as number);

    // The kept task finishes, but not before it has waited out the delay in the queue.
    let record: Answer['data'] = null;
    await expect
      .poll(
        async () => {
          record = (await call(`/veo/record-info?taskId=${keptId}`)).data;
          return record?.successFlag;
        },
        { timeout: 60_000, interval: 500 },
      )
      .toBe(1);
    const done = record as unknown as { createTime: number; completeTime: number };
    expect(done.completeTime - done.createTime).toBeGreaterThanOrEqual(delaySeconds * 1000);
    // Only the kept task was paid for: the cancelled one's credits came back.
    expect(charged).toBeGreaterThan(0);
    expect(before - ((await call('/chat/credit')).data as unknown as number)).toBe(charged);
    expect((await call(`/veo/record-info?taskId=${cancelledId}`)).data?.successFlag).toBe(2);
  });
});
