import { fileURLToPath } from 'node:url';
import { videoOrigin } from './adapters/video-origin';
import { createSiteHandler, readSiteSettings } from './site/static-site';

/**
 * Read once: where videos are served from (for the pages' CSP) and, locally, where the built pages
 * are. Nothing else: the pages call only the API, never AWS.
 */
const settings = readSiteSettings(process.env);

/** API Gateway (HTTP API, payload 2.0): GET /, /playground and /docs with their files. */
export const handler = createSiteHandler({
  // Deployed, the built pages sit beside index.mjs; the local stack builds them into a folder of its own.
  root: settings.assetsDir ?? fileURLToPath(new URL('./site-assets/', import.meta.url)),
  mediaOrigins: [settings.videoOrigin ?? videoOrigin(settings)],
});
