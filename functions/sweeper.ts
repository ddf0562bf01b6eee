// First: it settles what libraries read as they load (zod’s JIT).
import './composition/preload';
import type { Context } from 'aws-lambda';
import { addLambdaContext } from './composition/observability';
import { sweeperDeps } from './composition/sweeper';
import { loadConfig } from './config';
import { type SweepOutcome, sweep } from './core/stages/sweep';

const deps = sweeperDeps(loadConfig());

/** Scheduled (EventBridge; locally an interval): one sweep of overdue tasks, renditions and dead letters. */
export async function handler(_event: unknown, context?: Context): Promise<SweepOutcome> {
  addLambdaContext(deps.log, context);
  return sweep(deps);
}
