import { chromium } from 'playwright-core';
import type { TestProject } from 'vitest/node';
import { browserTestsRequired, findChromium, howToEnable } from './chromium';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The Chromium the browser tests drive; empty when there is none and they are skipped. */
    chromiumPath: string;
  }
}

/**
 * Global setup of the browser project: finds Chromium once. Without it the tests are skipped with one line
 * saying why, except on CI, where they are required and the run fails.
 */
export default function setup(project: TestProject): void {
  const found = findChromium({ env: process.env, playwrightPath: () => chromium.executablePath() });
  if (found.reason === undefined) {
    project.provide('chromiumPath', found.path);
    return;
  }
  if (browserTestsRequired(process.env))
    throw new Error(`browser tests need Chromium and CI is set: ${found.reason} (${howToEnable})`);
  console.log(`browser tests skipped: ${found.reason} (${howToEnable})`);
  project.provide('chromiumPath', '');
}
