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

/**
 * The source files a function's cold start loads: its entry chunk and every chunk reached from it by a
 * static import, bundled as deployed (split). What only `import()` reaches loads on first use.
 */
async function coldStartInputs(): Promise<Map<string, Set<string>>> {
  const { metafile } = await build({
    ...lambdaBundling,
    minify: false,
    mainFields: [...lambdaBundling.mainFields],
    entryPoints: entries,
    outdir: 'out',
    splitting: true,
    absWorkingDir: repoRoot,
    external: externalModules('kie'),
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  const loaded = new Map<string, Set<string>>();
  for (const [path, output] of Object.entries(metafile.outputs)) {
    if (!output.entryPoint) continue;
    const files = new Set<string>();
    const pending = [path];
    const seen = new Set<string>();
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      if (seen.has(next)) continue;
      seen.add(next);
      const chunk = metafile.outputs[next];
      if (!chunk) continue;
      for (const input of Object.keys(chunk.inputs)) files.add(input);
      for (const imported of chunk.imports)
        if (imported.kind === 'import-statement') pending.push(imported.path);
    }
    loaded.set(output.entryPoint, files);
  }
  return loaded;
}

describe('what a cold start loads', () => {
  let loaded: Map<string, Set<string>>;
  beforeAll(async () => {
    loaded = await coldStartInputs();
  }, 60_000);

  it('the api leaves its documents (OpenAPI, the events’ schema) and the S3 client for their first use', () => {
    const api = loaded.get(entries.api);
    expect(api?.has('functions/http/api-routes.ts')).toBe(true);
    for (const lazy of ['functions/http/openapi.ts', 'functions/core/event-schema.ts'])
      expect(api?.has(lazy), lazy).toBe(false);
    expect([...(api ?? [])].filter((file) => file.includes('@aws-sdk/client-s3'))).toEqual([]);
  });

  it('the upstream-callback does not build the request schemas', () => {
    const callback = loaded.get(entries['upstream-callback']);
    expect(callback?.has('functions/core/task-id.ts')).toBe(true);
    expect(callback?.has('functions/core/schema.ts')).toBe(false);
  });
});
