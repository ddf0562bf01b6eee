import type { TestProject } from 'vitest/node';
import type { EmulatorEndpoints } from '../../local/emulators';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The DynamoDB Local and fauxqs every local stack of the project attaches to. */
    emulators: EmulatorEndpoints;
  }
}

/**
 * Global setup of the e2e project: one DynamoDB Local JVM and one fauxqs for all its files, not one per
 * file (the JVM's start-up was the largest fixed share of each file). Each stack still gets tables, queues
 * and a bucket of its own (startEmulators' `attach`); test/setup/emulators-env.ts hands the endpoints to
 * startLocalStack.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { launchEmulators } = await withoutSqliteWarning(() => import('../../local/emulators'));
  const emulators = await launchEmulators();
  project.provide('emulators', {
    dynamodbEndpoint: emulators.dynamodbEndpoint,
    sqsEndpoint: emulators.sqsEndpoint,
  });
  return emulators.stop;
}

/**
 * fauxqs loads node:sqlite, whose ExperimentalWarning says nothing about our code; the workers are started
 * with --no-warnings=ExperimentalWarning (vitest.config.ts), but this runs in vitest's own process.
 */
async function withoutSqliteWarning<T>(load: () => Promise<T>): Promise<T> {
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (!String(warning).includes('SQLite')) Reflect.apply(emitWarning, process, [warning, ...rest]);
  }) as typeof process.emitWarning;
  try {
    return await load();
  } finally {
    process.emitWarning = emitWarning;
  }
}
