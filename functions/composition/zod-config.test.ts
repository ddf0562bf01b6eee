import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { functionEntries } from '../manifest';
import './zod-config';

const source = (entry: string) =>
  readFileSync(fileURLToPath(new URL(`../../${entry}`, import.meta.url)), 'utf8');

/** The handlers that build zod schemas (the site's pages are static). */
const handlers = functionEntries.filter(([, fn]) => fn.entry !== 'functions/site.ts');

describe('zod-config', () => {
  it('turns zod’s JIT off', () => {
    expect(z.config().jitless).toBe(true);
  });

  it.each(handlers)(
    '%s imports it before any other module, so no schema is built with the JIT on',
    (_name, fn) => {
      const firstImport = /^import\s[^;]*;/m.exec(source(fn.entry))?.[0];
      expect(firstImport).toBe("import './composition/zod-config';");
    },
  );
});
