import { accessSync, constants, statSync } from 'node:fs';

/**
 * Where the browser tests find Chromium: CHROMIUM_PATH when set (an explicit choice wins, even a wrong one),
 * else Debian's /usr/bin/chromium, else the browser playwright installs for itself
 * (`npx playwright-core install chromium`).
 */
export interface ChromiumLookup {
  env: Record<string, string | undefined>;
  /** Defaults to "an executable file here" (a bind mount of /dev/null over it, hiding it, is not). */
  exists?: (path: string) => boolean;
  /** playwright's own browser, where it would be (playwright-core's `chromium.executablePath()`). */
  playwrightPath?: () => string | undefined;
}

export type ChromiumFound = { path: string; reason?: undefined } | { path?: undefined; reason: string };

export const debianChromium = '/usr/bin/chromium';
export const howToEnable = 'set CHROMIUM_PATH or apt-get install chromium';

export function findChromium({
  env,
  exists = isExecutableFile,
  playwrightPath,
}: ChromiumLookup): ChromiumFound {
  const chosen = env.CHROMIUM_PATH;
  if (chosen) return exists(chosen) ? { path: chosen } : { reason: `CHROMIUM_PATH=${chosen} does not exist` };
  if (exists(debianChromium)) return { path: debianChromium };
  const own = safely(playwrightPath);
  if (own && exists(own)) return { path: own };
  return { reason: 'no Chromium found' };
}

/** CI requires the browser tests: any value of CI but "false" and "0" (the convention CI services keep). */
export function browserTestsRequired(env: Record<string, string | undefined>): boolean {
  const ci = env.CI?.trim().toLowerCase();
  return Boolean(ci) && ci !== 'false' && ci !== '0';
}

function safely(lookup: (() => string | undefined) | undefined): string | undefined {
  try {
    return lookup?.();
  } catch {
    // playwright-core throws when it has no registry entry for this platform.
    return undefined;
  }
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
