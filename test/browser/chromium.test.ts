import { describe, expect, it } from 'vitest';
import { browserTestsRequired, debianChromium, findChromium } from './chromium';

/** The lookup that decides whether the browser tests run, are skipped, or fail the run on CI. */
const only =
  (...present: string[]) =>
  (path: string) =>
    present.includes(path);
const playwrightOwn = '/home/u/.cache/ms-playwright/chromium-1/chrome-linux64/chrome';

describe('findChromium', () => {
  it('takes CHROMIUM_PATH first, and reports it when it does not exist rather than looking elsewhere', () => {
    const everywhere = only('/opt/chrome', debianChromium, playwrightOwn);
    expect(findChromium({ env: { CHROMIUM_PATH: '/opt/chrome' }, exists: everywhere })).toEqual({
      path: '/opt/chrome',
    });
    expect(findChromium({ env: { CHROMIUM_PATH: '/nonexistent' }, exists: everywhere })).toEqual({
      reason: 'CHROMIUM_PATH=/nonexistent does not exist',
    });
  });

  it("then Debian's chromium, then playwright's own browser", () => {
    const playwrightPath = () => playwrightOwn;
    expect(findChromium({ env: {}, exists: only(debianChromium, playwrightOwn), playwrightPath })).toEqual({
      path: debianChromium,
    });
    expect(findChromium({ env: {}, exists: only(playwrightOwn), playwrightPath })).toEqual({
      path: playwrightOwn,
    });
  });

  it('finds none when neither is installed, or playwright has no browser for this platform', () => {
    expect(findChromium({ env: {}, exists: only(), playwrightPath: () => playwrightOwn })).toEqual({
      reason: 'no Chromium found',
    });
    const unsupported = () => {
      throw new Error('unsupported platform');
    };
    expect(findChromium({ env: {}, exists: only(), playwrightPath: unsupported })).toEqual({
      reason: 'no Chromium found',
    });
  });
});

describe('browserTestsRequired', () => {
  it.each([
    ['true', true],
    ['1', true],
    ['yes', true],
    ['false', false],
    ['FALSE', false],
    ['0', false],
    ['', false],
    [undefined, false],
  ])('CI=%s -> %s', (ci, required) => {
    expect(browserTestsRequired({ CI: ci })).toBe(required);
  });
});
