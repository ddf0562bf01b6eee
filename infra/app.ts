import { App } from 'aws-cdk-lib';
import { readStackSettings } from './settings';
import { VeoStack } from './veo-stack';

/**
 * The CDK app (`npx cdk synth`, `npx cdk deploy`). Context keys, set in cdk.json or with `-c key=value`:
 *   provider             upstream that generates the videos; default "simulator" (the only one so far)
 *   providerBaseUrl      the provider's base URL; default "https://simulator.invalid" (a real
 *                        provider, with its credentials in Secrets Manager, arrives later)
 *   retentionDays        days videos and tasks are kept; default 14
 *   allowHttpCallbacks   accept plain-http callBackUrl values; default false
 *   pollIntervalSeconds  delay between two polls of an upstream operation; default 10
 *   veo3ModelId, veo3FastModelId  upstream model ids; default the provider's Veo 3.1 ids
 *   region               region to deploy to; default the region of the current AWS credentials
 */
const app = new App();
new VeoStack(app, 'VeoServerless', {
  settings: readStackSettings(app.node),
  // Deploys to the account and region of the current AWS credentials; environment-agnostic without them.
  env: {
    account: process.env.CDK_DEFAULT_ACCOUNT,
    region: app.node.tryGetContext('region') ?? process.env.CDK_DEFAULT_REGION,
  },
  description: 'veo-serverless: Veo 3.1 video generation behind a kie.ai-compatible API',
});
