import { describe, expect, it } from 'vitest';
import { functions } from '../manifest';
import { STEP_RESERVE_SECONDS, stepBudgetMs } from './step-budget';

describe('stepBudgetMs', () => {
  it("ends the poller's ffmpeg steps inside its timeout, with the reserve for our own failure path", () => {
    const timeoutMs = functions.poller.timeoutSeconds * 1000;
    expect(stepBudgetMs(functions.poller.timeoutSeconds)).toBe(timeoutMs - STEP_RESERVE_SECONDS * 1000);
    expect(stepBudgetMs(functions.poller.timeoutSeconds)).toBeLessThan(timeoutMs);
  });

  it('keeps a third of a short timeout', () => {
    expect(stepBudgetMs(60)).toBe(20_000);
    expect(stepBudgetMs(30)).toBe(10_000);
  });
});
