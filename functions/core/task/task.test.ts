import { describe, expect, it } from 'vitest';
import { generateRequestSchema } from '../schema';
import { canTransition, isExpired, isFinal, newTask, successFlag, type TaskStatus } from '.';

const request = generateRequestSchema({ allowLoopback: false, allowHttp: false }).parse({ prompt: 'a cat' });
const input = {
  request,
  paramJson: '{"prompt":"a cat"}',
  keyHash: 'h',
  credits: 60,
  provider: 'simulator',
  now: Date.UTC(2026, 10, 24),
  retentionDays: 14,
  budgetSeconds: 600,
};

describe('task state machine', () => {
  it.each<[TaskStatus, TaskStatus, boolean]>([
    ['queued', 'submitting', true],
    ['submitting', 'submitted', true],
    ['submitting', 'queued', true],
    ['queued', 'submitted', false],
    ['queued', 'failed', true],
    ['submitted', 'succeeded', true],
    ['submitted', 'rejected', true],
    ['queued', 'succeeded', false],
    ['succeeded', 'failed', false],
    ['failed', 'submitted', false],
    ['rejected', 'queued', false],
    ['queued', 'cancelled', true],
    ['submitting', 'cancelled', false],
    ['submitted', 'cancelled', false],
    ['cancelled', 'queued', false],
  ])('%s → %s allowed: %s', (from, to, allowed) => {
    expect(canTransition(from, to)).toBe(allowed);
  });

  it("maps statuses to kie.ai's successFlag and knows the final ones", () => {
    const statuses: TaskStatus[] = [
      'queued',
      'submitting',
      'submitted',
      'succeeded',
      'failed',
      'rejected',
      'cancelled',
    ];
    expect(statuses.map(successFlag)).toEqual([0, 0, 0, 1, 2, 3, 2]);
    expect(statuses.filter(isFinal)).toEqual(['succeeded', 'failed', 'rejected', 'cancelled']);
  });
});

describe('newTask', () => {
  it('creates a queued task with a URL-safe id, a seed in range, a deadline and a TTL', () => {
    const task = newTask(input);
    expect(task.taskId).toMatch(/^veo_[A-Za-z0-9_-]{16}$/);
    expect(task.status).toBe('queued');
    expect(task.seeds).toBeGreaterThanOrEqual(10000);
    expect(task.seeds).toBeLessThanOrEqual(99999);
    expect(task.deadlineAt).toBe(input.now + 600_000);
    expect(task.expiresAt).toBe(input.now / 1000 + 14 * 86400);
    expect(newTask(input).taskId).not.toBe(task.taskId);
  });

  it("keeps the client's seed and resolves Auto without images to 16:9", () => {
    const auto = generateRequestSchema({ allowLoopback: false, allowHttp: false }).parse({
      prompt: 'p',
      seeds: 54321,
      aspectRatio: 'Auto',
    });
    const task = newTask({ ...input, request: auto });
    expect(task.seeds).toBe(54321);
    expect(task.aspectRatio).toBe('16:9');
  });

  it('expires after the retention period', () => {
    const task = newTask(input);
    expect(isExpired(task, input.now + 13 * 86400_000, 14)).toBe(false);
    expect(isExpired(task, input.now + 15 * 86400_000, 14)).toBe(true);
  });
});
