import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { StackSettings } from './settings';
import { VeoServerless } from './veo-serverless';

export interface VeoStackProps extends StackProps {
  settings: StackSettings;
}

/**
 * The project's own stack: the VeoServerless construct, as any app would add it, and the outputs
 * `npm run keys -- --stack NAME` and the README's smoke test read.
 */
export class VeoStack extends Stack {
  readonly service: VeoServerless;

  constructor(scope: Construct, id: string, props: VeoStackProps) {
    super(scope, id, props);
    const service = new VeoServerless(this, 'Default', props.settings);
    this.service = service;

    new CfnOutput(this, 'ApiUrl', {
      value: service.url,
      description: 'Base URL of the API (add /api/v1/...)',
    });
    new CfnOutput(this, 'PlaygroundUrl', {
      value: `${service.url}playground`,
      description: 'Try the API in the browser (API reference at /docs)',
    });
    new CfnOutput(this, 'ApiKeysTableName', {
      value: service.apiKeysTable.tableName,
      description: 'Table `npm run keys` mints API keys into',
    });
  }
}
