import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  AssetHashType,
  DockerImage,
  type Duration,
  type ILocalBundling,
  RemovalPolicy,
  type Size,
  Validations,
} from 'aws-cdk-lib';
import {
  Architecture,
  Code,
  type ILayerVersion,
  Function as LambdaFunction,
  Runtime,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { buildFunction, externalModules, repoRoot } from '../bundling';

export interface VeoFunctionProps {
  /** Entry file relative to the repository root; it exports `handler`. */
  entry: string;
  description: string;
  timeout: Duration;
  /** @default 256 */
  memorySize?: number;
  /** Every function gets the same environment (functions/config.ts validates it at cold start). */
  environment: Record<string, string>;
  /** @default two weeks */
  logRetention?: RetentionDays;
  /** @default 512 MiB, Lambda's minimum */
  ephemeralStorageSize?: Size;
  layers?: ILayerVersion[];
  /** Files copied into the bundle beside index.mjs, for code that finds them through `import.meta.url`. */
  bundledFiles?: BundledFile[];
  /** Shell commands run from the repository root once the bundle is built; `outputDir` is the bundle's root. */
  afterBundling?: (outputDir: string) => string[];
  /** Concurrency reserved for (and capping) this function; @default none */
  reservedConcurrentExecutions?: number;
  /**
   * Packages with native code (sharp) left out of index.mjs and installed beside it from package-lock.json,
   * for Lambda's platform (linux arm64, glibc) whatever machine synthesizes.
   */
  nodeModules?: readonly string[];
  /** X-Ray active tracing; @default true */
  tracing?: boolean;
}

export interface BundledFile {
  /** Relative to the repository root. */
  source: string;
  /** Relative to the bundle's root, the directory of index.mjs. */
  target: string;
}

/**
 * A Lambda function with the house defaults: Node.js 22 on arm64, bundled by the local esbuild (never
 * Docker) into minified ESM, index.mjs and its lazily loaded chunks (infra/bundling.ts buildFunction),
 * logging to its own log group with a retention. Not NodejsFunction: it bundles to one `--outfile`, and
 * esbuild splits code only into an output directory.
 */
export class VeoFunction extends LambdaFunction {
  constructor(scope: Construct, id: string, props: VeoFunctionProps) {
    // A sibling of the function: `this` cannot be a scope before super().
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? RetentionDays.TWO_WEEKS,
      // The logs expire anyway; a retained group would only outlive the function it describes.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      // Hashed by its output: what changes the bundle changes the asset, whatever file it came from.
      code: Code.fromAsset(repoRoot, {
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          // Required by the type, never pulled: the local bundling below always bundles (or throws).
          image: DockerImage.fromRegistry('local-bundling-only'),
          local: new LocalBundling(props),
        },
      }),
      handler: 'index.handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout,
      ephemeralStorageSize: props.ephemeralStorageSize,
      layers: props.layers,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      environment: props.environment,
      logGroup,
      // X-Ray: a task's path (api, queues, worker, poller, notifier) is one trace; CDK grants the writes.
      tracing: props.tracing === false ? Tracing.DISABLED : Tracing.ACTIVE,
    });
    // cdk-nag: AWSLambdaBasicExecutionRole only lets the function write its logs (to the log group above).
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'The AWS-managed basic execution role only grants writing CloudWatch Logs',
    });
    // cdk-nag: active tracing's grant (CDK adds it) is xray:PutTraceSegments and PutTelemetryRecords on "*";
    // neither action has a resource type to scope it to (IAM Service Authorization Reference, X-Ray).
    if (props.tracing !== false)
      Validations.of(this).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray PutTraceSegments and PutTelemetryRecords have no resource type',
      });
    // cdk-nag: the runtime is chosen on purpose and moves with the local runtime (package.json engines).
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Node.js 22 matches the tested local runtime and esbuild target; upgraded deliberately',
    });
  }
}

/**
 * The function's bundle in `outputDir`: index.mjs and its chunks (the AWS SDK bundled in, google-auth-library
 * only for Vertex AI), then its files copied beside them, its native packages installed, its commands run.
 * A class with the function's settings as fields: CDK caches a bundle under its options' JSON, so each
 * function's must differ.
 */
class LocalBundling implements ILocalBundling {
  readonly entry: string;
  readonly external: readonly string[];
  readonly nodeModules: readonly string[];
  readonly bundledFiles: readonly BundledFile[];
  private readonly afterBundling: VeoFunctionProps['afterBundling'];

  constructor(props: VeoFunctionProps) {
    this.entry = props.entry;
    this.nodeModules = props.nodeModules ?? [];
    this.external = [...externalModules(props.environment.PROVIDER), ...this.nodeModules];
    this.bundledFiles = props.bundledFiles ?? [];
    this.afterBundling = props.afterBundling;
  }

  tryBundle(outputDir: string): boolean {
    buildFunction(this.entry, outputDir, this.external);
    for (const { source, target } of this.bundledFiles) {
      mkdirSync(dirname(join(outputDir, target)), { recursive: true });
      copyFileSync(join(repoRoot, source), join(outputDir, target));
    }
    if (this.nodeModules.length > 0) installNodeModules(this.nodeModules, outputDir);
    for (const command of this.afterBundling?.(outputDir) ?? []) {
      execFileSync('bash', ['-c', command], { cwd: repoRoot, stdio: 'inherit' });
    }
    return true;
  }
}

/**
 * Installs `names` beside index.mjs at the versions package-lock.json pins, for Lambda's platform: `npm ci`
 * picks the optional packages of linux arm64 with glibc (@img/sharp-linux-arm64), whatever machine synthesizes.
 */
function installNodeModules(names: readonly string[], outputDir: string): void {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  const dependencies = Object.fromEntries(names.map((name) => [name, manifest.dependencies?.[name]]));
  writeFileSync(join(outputDir, 'package.json'), JSON.stringify({ dependencies }));
  copyFileSync(join(repoRoot, 'package-lock.json'), join(outputDir, 'package-lock.json'));
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: outputDir,
    stdio: 'inherit',
    env: { ...process.env, npm_config_cpu: 'arm64', npm_config_os: 'linux', npm_config_libc: 'glibc' },
  });
}

/** A single-quoted shell word: nothing in it expands. */
export const shellQuote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;
