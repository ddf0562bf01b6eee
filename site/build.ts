import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Builds the playground and the API reference into one folder that functions/site.ts serves:
 * `playground/` and `docs/`, each an index.html with its script and stylesheet. The page scripts are
 * TypeScript bundled by esbuild; the renderer (swagger-ui-dist) is copied from its npm package, so
 * nothing is ever loaded from a CDN. Run at `npm start` (into a temporary folder) and by the CDK
 * bundling of the site function (beside its index.mjs).
 */
const siteDir = fileURLToPath(new URL('./', import.meta.url));
const swaggerUiDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** Page scripts and stylesheets: source → bundled file, relative to site/ and to the output folder. */
const bundled = [
  { source: 'playground/main.ts', target: 'playground/playground.js' },
  { source: 'playground/playground.css', target: 'playground/playground.css' },
  { source: 'docs/main.ts', target: 'docs/docs.js' },
  { source: 'docs/docs.css', target: 'docs/docs.css' },
];

/** Files copied as they are: [absolute source, target relative to the output folder]. */
const copies: [string, string][] = [
  [join(siteDir, 'playground/index.html'), 'playground/index.html'],
  [join(siteDir, 'favicon.svg'), 'playground/favicon.svg'],
  [join(siteDir, 'docs/index.html'), 'docs/index.html'],
  [join(siteDir, 'favicon.svg'), 'docs/favicon.svg'],
  [join(swaggerUiDir, 'swagger-ui-bundle.js'), 'docs/swagger-ui/swagger-ui-bundle.js'],
  [join(swaggerUiDir, 'LICENSE'), 'docs/swagger-ui/LICENSE.txt'],
  [join(swaggerUiDir, 'NOTICE'), 'docs/swagger-ui/NOTICE.txt'],
  [
    join(swaggerUiDir, 'swagger-ui-bundle.js.LICENSE.txt'),
    'docs/swagger-ui/swagger-ui-bundle.js.LICENSE.txt',
  ],
];

export async function buildSite(outDir: string): Promise<void> {
  await Promise.all([
    build({
      entryPoints: bundled.map(({ source, target }) => ({
        in: join(siteDir, source),
        out: target.replace(/\.(js|css)$/, ''),
      })),
      outdir: outDir,
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      logLevel: 'warning',
    }),
    ...copies.map(async ([source, target]) => {
      await mkdir(dirname(join(outDir, target)), { recursive: true });
      await copyFile(source, join(outDir, target));
    }),
    copyRendererStyles(outDir),
  ]);
}

/** The renderer's stylesheet without its source-map comment: the map is not shipped, so nothing asks for it. */
async function copyRendererStyles(outDir: string): Promise<void> {
  const css = await readFile(join(swaggerUiDir, 'swagger-ui.css'), 'utf8');
  const target = join(outDir, 'docs/swagger-ui/swagger-ui.css');
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, css.replace(/\/\*# sourceMappingURL=[^*]*\*\/\s*$/, ''));
}
