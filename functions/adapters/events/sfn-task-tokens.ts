import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { TaskTokens } from '../../core/ports';

/** Answers that mean the token can never be answered again: a redelivered message, a timed-out step. */
const closed = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

/** Step Functions' callback pattern: SendTaskSuccess / SendTaskFailure for a `.waitForTaskToken` step. */
export class SfnTaskTokens implements TaskTokens {
  constructor(private readonly client: SFNClient) {}

  async succeed(token: string, output: unknown): Promise<void> {
    await this.answer(() =>
      this.client.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output) })),
    );
  }

  async fail(token: string, error: string, cause: string): Promise<void> {
    // Step Functions caps `error` at 256 and `cause` at 32768 characters.
    const command = new SendTaskFailureCommand({
      taskToken: token,
      error: error.slice(0, 256),
      cause: cause.slice(0, 32768),
    });
    await this.answer(() => this.client.send(command));
  }

  private async answer(send: () => Promise<unknown>): Promise<void> {
    try {
      await send();
    } catch (error) {
      if (error instanceof Error && closed.has(error.name)) return;
      throw error;
    }
  }
}
