import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { functionEntries } from '../manifest';
import './preload';

const source = (entry: string) =>
  readFileSync(fileURLToPath(new URL(`../../${entry}`, import.meta.url)), 'utf8');
const firstImport = (entry: string) => /^import\s[^;]*;/m.exec(source(entry))?.[0];

/** cls-hooked keeps its namespaces on `process`, where the X-Ray SDK's automatic mode registers one. */
const xrayNamespace = () => (process as { namespaces?: Record<string, unknown> }).namespaces?.AWSXRay;

/** The handlers that build zod schemas or load X-Ray (the site's pages are static). */
const handlers = functionEntries.filter(([, fn]) => fn.entry !== 'functions/site.ts');

describe('preload', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it('turns zod’s JIT off', () => {
    expect(z.config().jitless).toBe(true);
  });

  it('puts the X-Ray SDK in manual mode outside Lambda, so it hooks no promise', async () => {
    expect(process.env.AWS_XRAY_MANUAL_MODE).toBe('true');
    await import('@aws-lambda-powertools/tracer');
    expect(xrayNamespace()).toBeUndefined();
  });

  it('leaves X-Ray alone in Lambda, where tracing needs its context', async () => {
    vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs22.x');
    vi.stubEnv('AWS_XRAY_MANUAL_MODE', undefined);
    vi.resetModules();
    await import('./preload');
    expect(process.env.AWS_XRAY_MANUAL_MODE).toBeUndefined();
  });

  it.each(handlers)(
    '%s imports it before any other module, so no schema is built with the JIT on and X-Ray loads after it',
    (_name, fn) => {
      expect(firstImport(fn.entry)).toBe("import './composition/preload';");
    },
  );

  it('is imported first by the one module that loads X-Ray, for code that reaches it before any handler', () => {
    expect(firstImport('functions/composition/observability.ts')).toBe("import './preload';");
  });
});
