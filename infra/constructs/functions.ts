import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, Size } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import { DEFAULT_FONT_FILE } from '../../functions/adapters/media/ffmpeg-watermarker';
import {
  type BundledAsset,
  type FunctionManifest,
  type FunctionName,
  functionEntries,
} from '../../functions/manifest';
import { repoRoot } from '../bundling';
import { type GrantTargets, grantUses } from './grants';
import { type BundledFile, shellQuote, VeoFunction, type VeoFunctionProps } from './veo-function';

/** Where the built pages go in the bundle: functions/site.ts reads them from `./site-assets/` beside it. */
export const SITE_ASSETS_DIR = 'site-assets';

/**
 * The watermark font and its licence, at the place DEFAULT_FONT_FILE points to relative to its module.
 * That is `new URL('./assets/…', import.meta.url)`; bundled, `import.meta.url` is index.mjs, so the
 * font goes to `assets/` beside it.
 */
const watermarkFont: BundledFile[] = (() => {
  const moduleDir = fileURLToPath(new URL('../../functions/adapters/media/', import.meta.url));
  const target = relative(moduleDir, DEFAULT_FONT_FILE);
  const source = relative(repoRoot, DEFAULT_FONT_FILE);
  const licence = (path: string) => path.replace(/\.ttf$/, '.LICENSE.txt');
  return [
    { source, target },
    { source: licence(source), target: licence(target) },
  ];
})();

/** How each bundled asset of the manifest gets beside index.mjs. */
const assets: Record<BundledAsset, Pick<VeoFunctionProps, 'bundledFiles' | 'afterBundling'>> = {
  watermarkFont: { bundledFiles: watermarkFont },
  // site/build.ts bundles the pages' TypeScript with esbuild and copies swagger-ui from its package,
  // run by the same Node.js that runs this synth.
  sitePages: {
    afterBundling: (outputDir) => [
      [
        shellQuote(process.execPath),
        '--import',
        'tsx',
        'site/build-cli.ts',
        shellQuote(`${outputDir}/${SITE_ASSETS_DIR}`),
      ].join(' '),
    ],
  },
};

export interface FunctionsProps {
  targets: GrantTargets;
  /** The variables of each resource and setting (see VeoServerless); each function takes its share. */
  environment: { config: Record<string, string>; videoBucketOnly: Record<string, string> };
  /** A layer with ffmpeg at /opt/bin/ffmpeg, for the functions whose manifest entry uses it. */
  ffmpeg?: ILayerVersion;
  /** Concurrency reserved for the api (absent: none). */
  apiReservedConcurrency?: number;
  /** X-Ray active tracing for every function. */
  tracing: boolean;
}

/**
 * The stateless part: one function per manifest entry (functions/manifest.ts), its event source and
 * exactly the grants its entry lists. Nothing here names a particular function but the api's reservation.
 */
export class Functions extends Construct {
  readonly byName: Record<FunctionName, VeoFunction>;

  constructor(scope: Construct, id: string, props: FunctionsProps) {
    super(scope, id);
    const { targets, ffmpeg } = props;
    const made = functionEntries.map(([name, spec]) => {
      const withFfmpeg = ffmpeg !== undefined && spec.uses.ffmpeg === true;
      const bundled = (spec.uses.bundledFiles ?? []).map((asset) => assets[asset]);
      const fn = new VeoFunction(this, name[0]?.toUpperCase() + name.slice(1), {
        entry: spec.entry,
        description: spec.description,
        timeout: Duration.seconds(spec.timeoutSeconds),
        memorySize: (withFfmpeg && spec.withFfmpeg?.memoryMb) || spec.memoryMb,
        ephemeralStorageSize:
          withFfmpeg && spec.withFfmpeg ? Size.mebibytes(spec.withFfmpeg.ephemeralStorageMb) : undefined,
        layers: withFfmpeg ? [ffmpeg] : undefined,
        environment:
          spec.environment === 'config' ? props.environment.config : props.environment.videoBucketOnly,
        bundledFiles: bundled.flatMap((a) => a.bundledFiles ?? []),
        afterBundling: (outputDir) => bundled.flatMap((a) => a.afterBundling?.(outputDir) ?? []),
        reservedConcurrentExecutions: name === 'api' ? props.apiReservedConcurrency : undefined,
        nodeModules: spec.nodeModules,
        tracing: props.tracing,
      });
      addTrigger(fn, spec, targets);
      grantUses(fn, spec.uses, targets);
      return [name, fn] as const;
    });
    this.byName = Object.fromEntries(made) as Record<FunctionName, VeoFunction>;
  }
}

/** An SQS consumer's event source, or a schedule's rule; HTTP routes are the Api construct's. */
function addTrigger(fn: VeoFunction, spec: FunctionManifest, targets: GrantTargets): void {
  if ('schedule' in spec.trigger) {
    new Rule(fn, 'Schedule', {
      schedule: Schedule.expression(spec.trigger.schedule),
      targets: [new LambdaFunction(fn, { retryAttempts: 0 })],
    });
    return;
  }
  if (!('queues' in spec.trigger)) return;
  // Consuming (receive, delete, change visibility) is granted by each event source, on its queue only.
  for (const trigger of spec.trigger.queues)
    fn.addEventSource(
      new SqsEventSource(targets.queues[trigger.queue], {
        batchSize: trigger.batchSize,
        maxConcurrency: trigger.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
}
