import { defineConfig } from 'vitest/config';

/**
 * What every project shares. The system under test's log lines reach the console only for a failing test,
 * or when LOG_LEVEL asks for them (test/setup/quiet-logs.ts). fauxqs and the DynamoDB Local glue use
 * node:sqlite, whose ExperimentalWarning says nothing about our code.
 */
const shared = {
  setupFiles: ['test/setup/quiet-logs.ts'],
  execArgv: ['--no-warnings=ExperimentalWarning'],
};

// One `npm test` runs every project; each can also run alone (npm run test:unit, test:infra, test:e2e,
// test:browser).
export default defineConfig({
  test: {
    silent: process.env.LOG_LEVEL ? false : 'passed-only',
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          include: [
            'bench/**/*.test.ts',
            'client/**/*.test.ts',
            'functions/**/*.test.ts',
            'simulator/**/*.test.ts',
            'tools/**/*.test.ts',
            'test/support/**/*.test.ts',
            'test/docs/**/*.test.ts',
          ],
        },
      },
      { test: { ...shared, name: 'infra', include: ['test/infra/**/*.test.ts'], testTimeout: 180_000 } },
      {
        test: {
          ...shared,
          name: 'e2e',
          include: ['test/local/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          // One DynamoDB Local and one fauxqs for every file; each stack makes its own tables, queues, bucket.
          globalSetup: ['test/setup/emulators.ts'],
          setupFiles: [...shared.setupFiles, 'test/setup/emulators-env.ts'],
          testTimeout: 60_000,
          hookTimeout: 90_000,
          // Its files mostly wait (simulated generation, polls, sweeps), so two run side by side even on two
          // cores, where the default (cores - 1) ran them one at a time; three starved the CPU-bound ones
          // (hostile-requests, renditions) enough to time out a neighbour's first generation. A maxWorkers of
          // its own needs a group of its own, run after the others.
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
      {
        // Chromium driven by playwright-core against `npm start` (the playground and /docs) and on the bench
        // report. Where no Chromium is found they are skipped with one line saying how to enable them; on CI
        // they fail.
        test: {
          ...shared,
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          globalSetup: ['test/browser/chromium-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
