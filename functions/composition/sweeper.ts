import type { Config } from '../config';
import type { SweepDeps } from '../core/stages/sweep';
import { dynamoDocumentClient, taskStore } from './dynamodb';
import { logger, metrics } from './observability';
import { settingsFrom } from './settings';
import { deadLetterQueues, taskQueues } from './sqs';

/** The sweeper: ends what is open past its deadline, and what the dead-letter queues name. */
export function sweeperDeps(config: Config): SweepDeps {
  return {
    tasks: taskStore(config, dynamoDocumentClient(config)),
    queues: taskQueues(config),
    deadLetters: deadLetterQueues(config),
    settings: settingsFrom(config),
    log: logger('sweeper'),
    metrics: metrics(),
    now: Date.now,
  };
}
