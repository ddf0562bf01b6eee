/**
 * What a function keeps back from its timeout after one long step (an ffmpeg run): our own failure path
 * (the failed write with its refund, the callback's message) and the upload of what the step made.
 */
export const STEP_RESERVE_SECONDS = 60;

/**
 * How long one long step may run inside a function whose timeout is `timeoutSeconds`, so a step that cannot
 * finish fails itself and refunds before Lambda kills the invocation (issue 14 defect 5): the timeout less the
 * reserve, and never less than a third of it.
 */
export function stepBudgetMs(timeoutSeconds: number): number {
  return Math.round(Math.max(timeoutSeconds / 3, timeoutSeconds - STEP_RESERVE_SECONDS) * 1000);
}
