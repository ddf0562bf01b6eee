import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy, type Size, Validations } from 'aws-cdk-lib';
import { Architecture, type ILayerVersion, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { externalModules, lambdaBundling } from '../bundling';

/** The repository root: entry paths are relative to it, and esbuild runs from it. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

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
  /** Shell commands run from the repository root once index.mjs is built; `outputDir` is the bundle's root. */
  afterBundling?: (outputDir: string) => string[];
  /** Concurrency reserved for (and capping) this function; @default none */
  reservedConcurrentExecutions?: number;
  /**
   * Packages with native code (sharp) left out of index.mjs and installed beside it from package-lock.json,
   * for Lambda's platform (linux arm64, glibc) whatever machine synthesizes.
   */
  nodeModules?: readonly string[];
}

export interface BundledFile {
  /** Relative to the repository root. */
  source: string;
  /** Relative to the bundle's root, the directory of index.mjs. */
  target: string;
}

/**
 * A Lambda function with the house defaults: Node.js 22 on arm64, bundled by the local esbuild
 * (never Docker) into one minified ESM file, logging to its own log group with a retention.
 */
export class VeoFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: VeoFunctionProps) {
    // A sibling of the function: `this` cannot be a scope before super().
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? RetentionDays.TWO_WEEKS,
      // The logs expire anyway; a retained group would only outlive the function it describes.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      entry: join(repoRoot, props.entry),
      handler: 'handler',
      projectRoot: repoRoot,
      depsLockFilePath: join(repoRoot, 'package-lock.json'),
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
      tracing: Tracing.ACTIVE,
      // The settings bench/bundle.ts measures, from infra/bundling.ts: the AWS SDK is bundled (not left to the
      // runtime's copy) because it halves cold init, measured; google-auth-library only for Vertex AI.
      bundling: {
        format: OutputFormat.ESM,
        target: lambdaBundling.target,
        minify: lambdaBundling.minify,
        sourceMap: lambdaBundling.sourcemap,
        mainFields: [...lambdaBundling.mainFields],
        banner: lambdaBundling.banner,
        esbuildArgs: {
          '--alias': Object.entries(lambdaBundling.alias).map(([name, path]) => `${name}=${path}`),
        },
        externalModules: externalModules(props.environment.PROVIDER),
        ...(props.nodeModules && {
          nodeModules: [...props.nodeModules],
          // npm ci then picks the optional packages of Lambda's platform (@img/sharp-linux-arm64).
          environment: { npm_config_cpu: 'arm64', npm_config_os: 'linux', npm_config_libc: 'glibc' },
        }),
        forceDockerBundling: false,
        logLevel: LogLevel.WARNING,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir, outputDir) => [
            ...copyCommands(props.bundledFiles ?? [], inputDir, outputDir),
            ...(props.afterBundling?.(outputDir) ?? []),
          ],
        },
      },
    });
    // cdk-nag: AWSLambdaBasicExecutionRole only lets the function write its logs (to the log group above).
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'The AWS-managed basic execution role only grants writing CloudWatch Logs',
    });
    // cdk-nag: active tracing's grant (CDK adds it) is xray:PutTraceSegments and PutTelemetryRecords on "*";
    // neither action has a resource type to scope it to (IAM Service Authorization Reference, X-Ray).
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

/** A single-quoted shell word: nothing in it expands. */
export const shellQuote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;

/** Plain `mkdir` and `cp`, run by the local bundling's bash; paths single-quoted, so nothing in them expands. */
function copyCommands(files: BundledFile[], inputDir: string, outputDir: string): string[] {
  return files.flatMap(({ source, target }) => [
    `mkdir -p ${shellQuote(dirname(join(outputDir, target)))}`,
    `cp ${shellQuote(join(inputDir, source))} ${shellQuote(join(outputDir, target))}`,
  ]);
}
