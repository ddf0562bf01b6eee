/**
 * How every function is bundled for Lambda, in one place: infra/constructs/veo-function.ts hands these to
 * NodejsFunction and bench/bundle.ts to esbuild, so the benchmark measures exactly what is deployed.
 *
 * The AWS SDK v3 is bundled (tree-shaken, minified), not taken from the Node.js 22 runtime's
 * /var/runtime/node_modules. Measured with `npm run bench` (issue 8; minified ESM, no source map, cold
 * import in a fresh node, 7 runs, baseline = a bundle that only creates a DynamoDB client, built the same way):
 *   SDK bundled:      baseline 322 KB, 103 ms; functions 538–745 KB, init 124–187 ms (1.2–1.8× baseline)
 *   SDK from runtime: baseline 0.2 KB, 153 ms; functions 164–204 KB, init 271–411 ms (1.8–2.7× baseline)
 * The runtime's packages load whole (every command of every client we use); bundled, esbuild keeps only
 * what we call, so cold starts are about twice as fast, and the SDK is the version pinned in
 * package-lock.json that the tests ran, not whatever the runtime ships that week. The price: the 250 KB
 * bundle goal cannot be met, since the bundled DynamoDB client alone is 322 KB.
 */
export const lambdaBundling = {
  format: 'esm',
  target: 'node22',
  minify: true,
  sourcemap: false,
  mainFields: ['module', 'main'],
  // ESM bundles have no `require`; some CommonJS dependencies still call it for Node built-ins.
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
} as const;

/**
 * Packages left out of the bundle. google-auth-library (about 270 KB with gaxios, node-fetch and the rest)
 * only serves the Vertex AI provider, which imports it dynamically when it first mints a token: a
 * deployment with any other provider never loads it, so its bundles go without it.
 */
export function externalModules(provider: string | undefined): string[] {
  return provider === 'vertex' ? [] : ['google-auth-library'];
}
