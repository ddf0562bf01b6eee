import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { createSiteHandler, videoOrigin } from './site/static-site';

/**
 * The site's own configuration, read once: where videos are served from (for the pages' CSP), and
 * locally where the built pages are. Nothing else: the pages call only the API, never AWS.
 */
const env = z
  .object({
    VIDEO_BUCKET: z.string().min(1),
    AWS_REGION: z.string().min(1),
    S3_ENDPOINT: z.url().optional(),
    /** The local stack builds the pages into a folder of its own; deployed they sit beside index.mjs. */
    SITE_ASSETS_DIR: z.string().min(1).optional(),
  })
  .parse(process.env);

/** API Gateway (HTTP API, payload 2.0): GET /, /playground and /docs with their files. */
export const handler = createSiteHandler({
  root: env.SITE_ASSETS_DIR ?? fileURLToPath(new URL('./site-assets/', import.meta.url)),
  mediaOrigins: [
    videoOrigin({ bucket: env.VIDEO_BUCKET, region: env.AWS_REGION, s3Endpoint: env.S3_ENDPOINT }),
  ],
});
