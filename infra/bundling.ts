import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, buildSync, type Metafile } from 'esbuild';

/**
 * How every function is bundled for Lambda, in one place: infra/constructs/veo-function.ts builds each
 * function's asset with buildFunction, and bench/bundle.ts builds the same, so the benchmark measures exactly
 * what is deployed.
 *
 * The AWS SDK v3 is bundled (tree-shaken, minified), not taken from the Node.js 22 runtime's
 * /var/runtime/node_modules (the repository's node_modules stand in for it in the bench). Measured with
 * `npm run bench` (issue 8; cold import in a fresh node, median of 15; baseline = a bundle that only
 * creates a DynamoDB client, built the same way; two runs on a shared 2-core machine):
 *   SDK bundled:      baseline 322 KB, 52–103 ms; functions 543–789 KB, init 83–187 ms (1.6–1.9× baseline)
 *   SDK from runtime: baseline 0.2 KB, 81–153 ms; functions 164–206 KB, init 133–411 ms (1.6–2.7× baseline)
 * The runtime's packages load whole (every command of every client we use); bundled, esbuild keeps only
 * what we call, so the same function starts in about half the time (api 91 ms against 178 ms in one run),
 * and the SDK is the version pinned in package-lock.json that the tests ran, not whatever the runtime ships
 * that week. The price: the 250 KB bundle goal cannot be met, since the bundled DynamoDB client alone is
 * 322 KB (209 KB of it loaded at a cold start, split).
 */
const shim = (file: string) => fileURLToPath(new URL(`./shims/${file}`, import.meta.url));

export const lambdaBundling = {
  // semver is only reached through the X-Ray SDK, for one `gte` at import (infra/shims/semver.ts);
  // node:http without the ESM facade that loads undici (infra/shims/node-http.cjs).
  alias: { semver: shim('semver.ts'), 'node:http': shim('node-http.cjs'), http: shim('node-http.cjs') },
  format: 'esm',
  target: 'node22',
  minify: true,
  sourcemap: false,
  mainFields: ['module', 'main'],
  // ESM bundles have no `require`; some CommonJS dependencies still call it for Node built-ins.
  banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
  bundle: true,
  platform: 'node',
} as const satisfies BuildOptions;

/** The repository root: entry paths are relative to it, and esbuild runs from it. */
export const repoRoot = fileURLToPath(new URL('../', import.meta.url));

/**
 * Builds one function into `outDir` as it is deployed: `index.mjs` (which exports `handler`) and, beside it,
 * the chunks it imports. Code splitting: a module reached only through `import()` (the S3 client, Amazon
 * Translate, EventBridge, Step Functions, Secrets Manager, sharp's adapter, jose…) goes into a chunk that
 * is read and compiled on first use, not at cold start. In one file it was evaluated lazily but still
 * parsed at import: split, the worker's cold init fell from 225–235 to 156–161 ms and the api's from 199–210
 * to 154–157 ms (two full `npm run bench` runs, both variants in one round-robin, bench/init.ts). The chunks sit beside index.mjs, so a path taken from `import.meta.url` (the
 * watermark font, the site's pages) is the same in any of them. `splitting` false is for the bench's
 * comparison only.
 */
export function buildFunction(
  entry: string,
  outDir: string,
  external: readonly string[],
  { splitting = true } = {},
): Metafile {
  const { metafile } = buildSync({
    ...lambdaBundling,
    mainFields: [...lambdaBundling.mainFields],
    entryPoints: { index: join(repoRoot, entry) },
    outdir: outDir,
    splitting,
    chunkNames: 'chunk-[hash]',
    outExtension: { '.js': '.mjs' },
    absWorkingDir: repoRoot,
    external: [...external],
    metafile: true,
    logLevel: 'warning',
  });
  return metafile;
}

/**
 * Packages left out of the bundle. google-auth-library (about 270 KB with gaxios, node-fetch and the rest)
 * only serves the Vertex AI provider, which imports it dynamically when it first mints a token: a
 * deployment with any other provider never loads it, so its bundles go without it.
 */
export function externalModules(provider: string | undefined): string[] {
  return provider === 'vertex' ? [] : ['google-auth-library'];
}
