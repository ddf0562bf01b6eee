import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { functionEntries } from '../manifest';
import './preload';

const source = (entry: string) =>
  readFileSync(fileURLToPath(new URL(`../../${entry}`, import.meta.url)), 'utf8');
const firstImport = (entry: string) => /^import\s[^;]*;/m.exec(source(entry))?.[0];

/** The handlers that build zod schemas (the site's pages are static). */
const handlers = functionEntries.filter(([, fn]) => fn.entry !== 'functions/site.ts');

describe('preload', () => {
  it('turns zod’s JIT off', () => {
    expect(z.config().jitless).toBe(true);
  });

  it.each(handlers)(
    '%s imports it before any other module, so no schema is built with the JIT on',
    (_name, fn) => {
      expect(firstImport(fn.entry)).toBe("import './composition/preload';");
    },
  );

  it('is imported first by the observability module, for code that reaches it before any handler', () => {
    expect(firstImport('functions/composition/observability.ts')).toBe("import './preload';");
  });
});
