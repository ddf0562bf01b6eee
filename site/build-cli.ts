import { resolve } from 'node:path';
import { buildSite } from './build';

/** `node --import tsx site/build-cli.ts OUT_DIR`: the CDK bundling of the site function runs this. */
const [outDir] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: site/build-cli.ts OUT_DIR');
  process.exit(2);
}
await buildSite(resolve(outDir));
