import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { entries } from '../../bench/bundle';
import { externalModules, lambdaBundling, repoRoot } from '../../infra/bundling';

/** Code that exists for tests, the bench or the local simulator, and must never ship in a function. */
const testOnly = /(^|\/)(test|simulator|bench)\/|test-helpers|test-support|test-server|fake/i;

/**
 * Which source files each function bundle is made of, bundled as infra/bundling.ts has them built (with
 * the Vertex AI provider's externals, which leave the most in). Not minified and not written: only the
 * metafile is looked at.
 */
let inputs: Map<string, string[]>;

beforeAll(async () => {
  const result = await build({
    ...lambdaBundling,
    minify: false,
    mainFields: [...lambdaBundling.mainFields],
    entryPoints: Object.fromEntries(Object.entries(entries).map(([name, entry]) => [name, entry])),
    outdir: 'out',
    absWorkingDir: repoRoot,
    external: externalModules('vertex'),
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  inputs = byEntry(result.metafile);
}, 60_000);

function byEntry(metafile: Metafile): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const output of Object.values(metafile.outputs)) {
    if (output.entryPoint) found.set(output.entryPoint, Object.keys(output.inputs));
  }
  return found;
}

describe('function bundles', () => {
  it('tells test-only paths apart', () => {
    for (const path of [
      'test/support/media.ts',
      'simulator/fixtures.ts',
      'bench/aws-call-counter.ts',
      'functions/adapters/media/test-helpers.ts',
      'functions/adapters/providers/test-support.ts',
      'functions/adapters/http/test-server.ts',
      'client/fake-api.ts',
    ]) {
      expect(path).toMatch(testOnly);
    }
    expect('functions/core/task.ts').not.toMatch(testOnly);
    expect('node_modules/@aws-sdk/client-dynamodb/dist-es/index.js').not.toMatch(testOnly);
  });

  it.each(Object.entries(entries))(
    '%s carries no test helper, fake, simulator or bench code',
    (_name, entry) => {
      const files = inputs.get(entry);
      // The entry itself and the core must be there, or the check below looks at the wrong thing.
      expect(files).toContain(entry);
      expect(files?.some((file) => file.startsWith('functions/core/') || file === 'functions/site.ts')).toBe(
        true,
      );
      expect(files?.filter((file) => testOnly.test(file))).toEqual([]);
    },
  );
});
