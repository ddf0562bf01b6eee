import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { VeoServerless } from '../../infra/veo-serverless';

/**
 * The construct as another team's CDK app would use it: none of this project's cdk.json (no feature
 * flags, no context), a stack with its own name, an existing bucket and an existing API-key table.
 */
const env = { account: '123456789012', region: 'eu-west-1' };
const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:media/kie-AbC123';

function foreignStack(name = 'MediaPlatform') {
  // No bundling: the functions' code is not what this test is about (test/infra/veo-stack.test.ts bundles).
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, name, { env });
}

type Resource = { Type: string; Properties: Record<string, unknown> };

describe('VeoServerless inside a foreign app', () => {
  const stack = foreignStack();
  const bucket = Bucket.fromBucketName(stack, 'Existing', 'media-platform-assets');
  const apiKeys = TableV2.fromTableName(stack, 'SharedKeys', 'media-platform-api-keys');
  const service = new VeoServerless(stack, 'Video', {
    provider: 'kie',
    providerSecretArn: secretArn,
    retentionDays: 30,
    allowHttpCallbacks: false,
    videoBucket: bucket,
    tables: { apiKeys },
  });
  const template = Template.fromStack(stack);
  const functions = Object.values(
    template.findResources('AWS::Lambda::Function') as Record<string, Resource>,
  );

  it('creates the functions, queues and the tables not given, and no bucket of its own', () => {
    expect(functions).toHaveLength(7);
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 2);
    template.resourceCountIs('AWS::SQS::Queue', 8);
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    // Named after the stack, so two apps in one account do not fight over one dashboard.
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'MediaPlatform' });
    expect(service.settings).toMatchObject({ provider: 'kie', retentionDays: 30, translation: 'amazon' });
  });

  it('points the functions at the existing bucket and table', () => {
    for (const fn of functions) {
      expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
        VIDEO_BUCKET: 'media-platform-assets',
      });
    }
    const configured = functions.filter((fn) =>
      JSON.stringify(fn.Properties.Environment).includes('API_KEYS_TABLE'),
    );
    expect(configured).toHaveLength(6);
    for (const fn of configured) {
      expect(JSON.stringify(fn.Properties.Environment)).toContain(
        '"API_KEYS_TABLE":"media-platform-api-keys"',
      );
    }
  });

  it('grants on the existing bucket under videos/ and on the existing table, exactly', () => {
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain(':s3:::media-platform-assets/videos/*');
    expect(policies).toContain(':table/media-platform-api-keys');
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 's3:GetObject',
            Resource: {
              'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::media-platform-assets/videos/*']],
            },
          }),
        ]),
      },
    });
  });

  it('passes cdk-nag AwsSolutions with the imported resources', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    const findings = report.violations.map(
      (v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
  });
});

describe("VeoServerless without this project's feature flags and without an existing bucket", () => {
  it('creates its own bucket and access-log bucket', () => {
    const stack = foreignStack('Studio');
    new VeoServerless(stack, 'Veo', {
      provider: 'gemini',
      providerSecretArn: secretArn.replace('kie', 'gemini'),
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::S3::Bucket', 2);
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 3);
  });
});

describe('VeoServerless props', () => {
  it('are validated by the same schema as the CDK context, naming the prop', () => {
    expect(() => new VeoServerless(foreignStack(), 'Veo', { provider: 'kie' })).toThrow(
      /Missing VeoServerless prop "providerSecretArn"/,
    );
    expect(() => new VeoServerless(foreignStack(), 'Veo', { provider: 'simulator' })).toThrow(
      /Missing VeoServerless prop "providerBaseUrl"/,
    );
    expect(
      () =>
        new VeoServerless(foreignStack(), 'Veo', {
          provider: 'kie',
          providerSecretArn: secretArn,
          retentionDays: 0,
        }),
    ).toThrow(/Invalid VeoServerless prop "retentionDays"/);
    expect(
      () => new VeoServerless(foreignStack(), 'Veo', { provider: 'kie', providerSecretArn: 'media/kie' }),
    ).toThrow(/Invalid VeoServerless prop "providerSecretArn"/);
  });

  it('refuses a secret from another region than the stack', () => {
    expect(
      () =>
        new VeoServerless(foreignStack(), 'Veo', {
          provider: 'kie',
          providerSecretArn: secretArn.replace('eu-west-1', 'us-east-1'),
        }),
    ).toThrow(/"providerSecretArn" is in us-east-1, but the stack deploys to eu-west-1/);
  });
});
