import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const repoRoot = fileURLToPath(new URL('../', import.meta.url));

/** Every Lambda entry point, as infra/ wires them (relative to the repository root). */
export const entries = {
  api: 'functions/api.ts',
  worker: 'functions/worker.ts',
  poller: 'functions/poller.ts',
  notifier: 'functions/notifier.ts',
  'upstream-callback': 'functions/upstream-callback.ts',
  site: 'functions/site.ts',
} as const;

export const baselineEntry = 'bench/baseline-handler.ts';

export interface BuiltBundle {
  name: string;
  file: string;
  bytes: number;
}

/**
 * Builds one entry exactly as infra/constructs/veo-function.ts has NodejsFunction do it: one minified
 * ESM file, no source map, node22, the AWS SDK bundled, the createRequire banner.
 */
export async function bundleEntry(name: string, entry: string, outDir: string): Promise<BuiltBundle> {
  const file = join(outDir, name, 'index.mjs');
  await build({
    entryPoints: [join(repoRoot, entry)],
    outfile: file,
    absWorkingDir: repoRoot,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    sourcemap: false,
    mainFields: ['module', 'main'],
    banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
    external: [],
    logLevel: 'warning',
  });
  return { name, file, bytes: (await stat(file)).size };
}

/** All function bundles plus the baseline, built into a fresh temporary folder. */
export async function bundleAll(): Promise<{
  outDir: string;
  functions: BuiltBundle[];
  baseline: BuiltBundle;
}> {
  const outDir = await mkdtemp(join(tmpdir(), 'veo-bench-'));
  const functions = await Promise.all(
    Object.entries(entries).map(([name, entry]) => bundleEntry(name, entry, outDir)),
  );
  const baseline = await bundleEntry('baseline', baselineEntry, outDir);
  return { outDir, functions, baseline };
}
