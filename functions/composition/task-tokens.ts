import { SFNClient } from '@aws-sdk/client-sfn';
import { SfnTaskTokens } from '../adapters/events/sfn-task-tokens';
import type { Config } from '../config';
import type { TaskTokens } from '../core/ports';
import { clientOptions } from './aws-clients';

/** Step Functions' task tokens; its own module, so the notifier loads the SFN client on first use only. */
export function taskTokens(config: Config): TaskTokens {
  return new SfnTaskTokens(new SFNClient(clientOptions(config.SFN_ENDPOINT)));
}
