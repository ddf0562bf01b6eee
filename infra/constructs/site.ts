import { Duration } from 'aws-cdk-lib';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { shellQuote, VeoFunction } from './veo-function';

/** Where the built pages go in the bundle: functions/site.ts reads them from `./site-assets/` beside it. */
export const SITE_ASSETS_DIR = 'site-assets';

export interface SiteProps {
  /** Results are presigned URLs of this bucket; the pages' CSP allows media from its S3 origin. */
  videos: IBucket;
}

/**
 * The playground and the API reference: a function of their own that serves static files, so the api
 * function's bundle stays small. It may touch nothing (no grant at all) and knows only the bucket's name.
 */
export class Site extends Construct {
  readonly fn: VeoFunction;

  constructor(scope: Construct, id: string, props: SiteProps) {
    super(scope, id);
    this.fn = new VeoFunction(this, 'Function', {
      entry: 'functions/site.ts',
      description: 'Playground and API reference pages (static files, CSP to our origin)',
      timeout: Duration.seconds(10),
      environment: { VIDEO_BUCKET: props.videos.bucketName },
      // site/build.ts bundles the pages' TypeScript with esbuild and copies swagger-ui from its package,
      // run by the same Node.js that runs this synth.
      afterBundling: (outputDir) => [
        [
          shellQuote(process.execPath),
          '--import',
          'tsx',
          'site/build-cli.ts',
          shellQuote(`${outputDir}/${SITE_ASSETS_DIR}`),
        ].join(' '),
      ],
    });
  }
}
