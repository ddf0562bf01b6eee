import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readStackSettings, type StackSettings } from './settings';
import { VeoStack } from './veo-stack';

/**
 * The CDK app (`npx cdk synth`, `npx cdk deploy`). Context keys, set in cdk.json or with `-c key=value`
 * (checked at synth time against the functions' own config schema, infra/settings.ts):
 *   provider             upstream that generates the videos: kie, vertex, gemini or simulator; required
 *                        (a synth without it fails, naming the keys to set)
 *   providerSecretArn    ARN of an existing Secrets Manager secret with the provider's credentials as JSON;
 *                        required for gemini {"apiKey"}, vertex {"serviceAccountJson"} and
 *                        kie {"apiKey","webhookSecret"}; only the worker, poller and upstream callback read it
 *   providerBaseUrl      the provider's base URL; default the provider's own API; required for the
 *                        simulator (the address of a simulator the functions can reach)
 *   vertexProject        vertex: Google Cloud project; default the service account key's project_id
 *   vertexRegion         vertex: e.g. europe-west4; default us-central1
 *   vertexStorageUri     vertex: gs:// prefix Veo writes the videos to instead of returning them inline
 *   vertexPushAccount    vertex: its push (needs vertexStorageUri): the service account of the OIDC tokens
 *                        the bucket's Pub/Sub push subscription sends to <api url>/internal/upstream-callback
 *   vertexPushAudience   vertex: those tokens' audience; default the upstream-callback URL (Pub/Sub's default)
 *   quotaLimit, quotaWindowSeconds  upstream submits per window, shared by every worker; default the
 *                        provider's published quota (kie 20 per 10 s, vertex 50 per minute, gemini 10 per minute)
 *   translation          amazon (default: prompts go through Amazon Translate) or none
 *   ffmpegLayerArn       ARN of a Lambda layer (arm64, same region) with /opt/bin/ffmpeg; turns on watermarks
 *                        and Auto aspect crop, and gives the poller 2048 MB and 2048 MiB of /tmp; default none
 *   retentionDays        days videos and tasks are kept; default 14
 *   allowHttpCallbacks   accept plain-http callBackUrl values; default false
 *   pollIntervalSeconds  delay between two polls of an upstream operation; default 10
 *   pushCheckSeconds     how long a task whose upstream pushes (kie.ai, Gemini API, Vertex AI) waits for the
 *                        push before the sweeper starts polling it; default 180
 *   tracing              true (default: X-Ray active, every function traced with Powertools' Tracer) or
 *                        false (no tracing, and no X-Ray SDK loaded: a faster cold start)
 *   veo3ModelId, veo3FastModelId  upstream model ids; default the provider's Veo 3.1 ids
 *   apiReservedConcurrency  concurrency reserved for the api function; default none (the SQS consumers'
 *                        MaximumConcurrency in functions/manifest.ts already leaves the rest to the api)
 *   region               region to deploy to; default the region of the current AWS credentials
 * Other CDK apps add the service with `new VeoServerless(scope, id, props)` (infra/veo-serverless.ts):
 * the same keys as props, validated by the same schema.
 */
const app = new App();
// cdk-nag's AWS Solutions rules run at every synth; an unacknowledged finding fails it.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
/** A missing or invalid setting is the operator's to fix: say which, without a stack trace. */
function settingsOrExit(): StackSettings {
  try {
    return readStackSettings(app.node);
  } catch (error) {
    console.error(`veo-serverless: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
new VeoStack(app, 'VeoServerless', {
  settings: settingsOrExit(),
  // Deploys to the account and region of the current AWS credentials; environment-agnostic without them.
  env: {
    account: process.env.CDK_DEFAULT_ACCOUNT,
    region: app.node.tryGetContext('region') ?? process.env.CDK_DEFAULT_REGION,
  },
  description: 'veo-serverless: Veo 3.1 video generation behind a kie.ai-compatible API',
});
