/** Step Functions' callback pattern: the answer to a `.waitForTaskToken` step that started a task. */
export interface TaskTokens {
  /**
   * SendTaskSuccess. Resolves also when Step Functions says the token is already answered, timed out or
   * unknown (a redelivered message): retrying could never succeed.
   */
  succeed(token: string, output: unknown): Promise<void>;
  /** SendTaskFailure with kie's error code as `error` (e.g. `Veo.501`) and its message as `cause`. */
  fail(token: string, error: string, cause: string): Promise<void>;
}
