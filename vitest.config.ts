import { defineConfig } from 'vitest/config';

// One `npm test` runs every project; each can also run alone (npm run test:unit, test:infra, test:e2e,
// test:browser).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'client/**/*.test.ts',
            'functions/**/*.test.ts',
            'simulator/**/*.test.ts',
            'tools/**/*.test.ts',
          ],
        },
      },
      { test: { name: 'infra', include: ['test/infra/**/*.test.ts'], testTimeout: 180_000 } },
      {
        test: {
          name: 'e2e',
          include: ['test/local/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
      {
        // Chromium driven by playwright-core against `npm start` (the playground and /docs). Where no
        // Chromium is found they are skipped with one line saying how to enable them; on CI they fail.
        test: {
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
