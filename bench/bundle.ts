import { cp, mkdir, mkdtemp } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Metafile } from 'esbuild';
import { functionEntries } from '../functions/manifest';
import { buildFunction, externalModules, repoRoot } from '../infra/bundling';

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

/** The libraries every function needs and nothing of ours (bench/floor-handler.ts), built the same way. */
export const floorEntry = 'bench/floor-handler.ts';

/** Only the libraries the design fixes (bench/design-floor-handler.ts): DynamoDB, SQS and zod. */
export const designFloorEntry = 'bench/design-floor-handler.ts';

/**
 * Where the bundles are built: inside the repository (git-ignored), so a bundle's external `@aws-sdk/*`
 * imports resolve from the repository's node_modules, standing in for Lambda's /var/runtime/node_modules.
 */
export const bundlesDir = join(repoRoot, 'bench/.bundles');

/**
 * `bundled`: as deployed (infra/bundling.ts: the SDK inside every bundle); `runtime`: the SDK left to the
 * Lambda runtime, measured for comparison. The provider decides whether google-auth-library is in. `split`
 * false: one file per function, without code splitting, measured for comparison (default: split, as deployed).
 */
export interface BundleVariant {
  sdk: 'runtime' | 'bundled';
  provider: string;
  split?: boolean;
}

export const deployed: BundleVariant = { sdk: 'bundled', provider: 'kie' };

export interface BuiltBundle {
  name: string;
  /** index.mjs, which exports the handler. */
  file: string;
  /**
   * What a cold start reads as deployed (tracing on): index.mjs, the chunks it imports statically and the
   * X-Ray chunk functions/composition/observability.ts imports at init; not the other chunks behind `import()`.
   */
  bytes: number;
  /** The same with tracing off, where the X-Ray chunk is not loaded. */
  tracingOffBytes: number;
  /** Everything built: index.mjs and every chunk. */
  allBytes: number;
  metafile: Metafile;
}

/**
 * The manifest's `nodeModules` of the function built from `entry` (sharp for the worker): left out of the
 * bundle and installed beside it, so they are not part of the bundle measured.
 */
function nodeModulesOf(entry: string): readonly string[] {
  return functionEntries.find(([, fn]) => fn.entry === entry)?.[1].nodeModules ?? [];
}

/** Builds one entry exactly as infra/constructs/veo-function.ts does (infra/bundling.ts buildFunction). */
export async function bundleEntry(
  name: string,
  entry: string,
  outDir: string,
  variant: BundleVariant = deployed,
): Promise<BuiltBundle> {
  const dir = join(outDir, name);
  const external = [
    ...externalModules(variant.provider),
    ...nodeModulesOf(entry),
    ...(variant.sdk === 'runtime' ? ['@aws-sdk/*'] : []),
  ];
  const metafile = buildFunction(entry, dir, external, { splitting: variant.split ?? true });
  // The watermark font beside index.mjs, as infra/ copies it for the poller (which finds ffmpeg here).
  await cp(join(repoRoot, 'functions/adapters/media/assets'), join(dir, 'assets'), { recursive: true });
  const file = join(dir, 'index.mjs');
  // index.mjs and, transitively, the chunks it imports statically (metafile paths are relative to the root),
  // and with `tracing`, the chunk that holds the Tracer, which a traced function imports as it starts.
  const { outputs } = metafile;
  const loadedAtInit = (tracing: boolean) => {
    const loaded = new Set<string>();
    const visit = (path: string) => {
      const output = outputs[path];
      if (!output || loaded.has(path)) return;
      loaded.add(path);
      for (const { path: imported, kind } of output.imports) {
        if (kind === 'import-statement' || (tracing && kind === 'dynamic-import' && holdsTracer(imported)))
          visit(imported);
      }
    };
    visit(relative(repoRoot, file));
    return loaded;
  };
  const holdsTracer = (path: string) =>
    Object.keys(outputs[path]?.inputs ?? {}).some((input) =>
      input.includes('node_modules/@aws-lambda-powertools/tracer/'),
    );
  const sum = (paths: Iterable<string>) =>
    [...paths].reduce((total, p) => total + (outputs[p]?.bytes ?? 0), 0);
  return {
    name,
    file,
    bytes: sum(loadedAtInit(true)),
    tracingOffBytes: sum(loadedAtInit(false)),
    allBytes: sum(Object.keys(outputs)),
    metafile,
  };
}

/** All function bundles plus the baseline and the floors, built the same way into a fresh folder under bundlesDir. */
export async function bundleAll(variant: BundleVariant = deployed): Promise<{
  outDir: string;
  functions: BuiltBundle[];
  baseline: BuiltBundle;
  floor: BuiltBundle;
  designFloor: BuiltBundle;
}> {
  await mkdir(bundlesDir, { recursive: true });
  const outDir = await mkdtemp(
    join(bundlesDir, `${variant.sdk}-${variant.provider}-${variant.split ?? true}-`),
  );
  const functions = await Promise.all(
    Object.entries(entries).map(([name, entry]) => bundleEntry(name, entry, outDir, variant)),
  );
  const baseline = await bundleEntry('baseline', baselineEntry, outDir, variant);
  const floor = await bundleEntry('floor', floorEntry, outDir, variant);
  const designFloor = await bundleEntry('floor.design', designFloorEntry, outDir, variant);
  return { outDir, functions, baseline, floor, designFloor };
}

/** The bundle's bytes by npm package (or folder of ours), largest first: what to look at when it grows. */
export function largestParts(bundle: BuiltBundle, count = 5): { part: string; bytes: number }[] {
  const parts = new Map<string, number>();
  for (const output of Object.values(bundle.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1];
      const part = pkg ?? input.split('/').slice(0, 2).join('/');
      parts.set(part, (parts.get(part) ?? 0) + bytesInOutput);
    }
  }
  return [...parts]
    .map(([part, bytes]) => ({ part, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, count);
}
