import { createHash } from 'node:crypto';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { VeoServerless } from '../../infra/veo-serverless';
import { VideoPipelineStack } from './example-pipeline';

/** docs-aws-integration.md's example app (test/infra/example-pipeline.ts), synthesized. */
const keyHash = createHash('sha256').update('example-key').digest('hex');
const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
const stack = new VideoPipelineStack(app, 'VideoPipeline', {
  env: { account: '123456789012', region: 'eu-west-1' },
  keyHash,
});
const template = Template.fromStack(stack);

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
function statementsWith(action: string): Statement[] {
  return Object.values(
    template.findResources('AWS::IAM::Policy') as Record<
      string,
      { Properties: { PolicyDocument: { Statement: Statement[] } } }
    >,
  )
    .flatMap((p) => p.Properties.PolicyDocument.Statement)
    .filter((s) => [s.Action].flat().includes(action));
}

describe('using the service from other AWS services (example app)', () => {
  it('has the IAM routes, with AWS_IAM authorization, beside the key-authenticated $default route', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'POST /iam/{proxy+}',
      AuthorizationType: 'AWS_IAM',
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'GET /iam/{proxy+}',
      AuthorizationType: 'AWS_IAM',
    });
  });

  it('lets the submitter invoke only the IAM routes, and maps its role to the key', () => {
    const invoke = statementsWith('execute-api:Invoke');
    expect(invoke.length).toBeGreaterThan(0);
    expect(JSON.stringify(invoke)).toContain('/POST/iam/*');
    expect(JSON.stringify(invoke)).not.toContain('/*/*/*');
    const notifier = Object.values(
      template.findResources('AWS::Lambda::Function') as Record<
        string,
        { Properties: { Environment?: { Variables?: Record<string, unknown> } } }
      >,
    )
      .map((f) => f.Properties.Environment?.Variables ?? {})
      .find((v) => v.IAM_PRINCIPALS !== undefined);
    expect(JSON.parse(String(notifier?.IAM_PRINCIPALS))).toEqual({
      'arn:aws:iam::123456789012:role/video-pipeline-submitter': keyHash,
    });
  });

  it('gives the notifier events:PutEvents on the bus and states:SendTask*', () => {
    expect(statementsWith('events:PutEvents')).toHaveLength(1);
    expect(JSON.stringify(statementsWith('events:PutEvents'))).toContain('event-bus/default');
    expect(statementsWith('states:SendTaskSuccess')).toMatchObject([{ Resource: '*' }]);
  });

  it('routes task events with the construct pattern helper, and waits for the task token', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['veo-serverless'], 'detail-type': ['Veo Task Succeeded', 'Veo Task Failed'] },
    });
    expect(VeoServerless.taskEvents()).toEqual({ source: ['veo-serverless'] });
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      DefinitionString: Match.objectLike({
        'Fn::Join': Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp('waitForTaskToken')])]),
      }),
    });
  });

  it('passes cdk-nag AwsSolutions for the service; the example keeps only its own Lambda and state machine defaults', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    const paths = report.violations.flatMap((v) =>
      v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath}`),
    );
    expect(paths.filter((p) => p.includes('VideoPipeline/Veo/'))).toEqual([]);
    // The example's own: Lambda's basic execution role, the grant's */METHOD/iam/* and Step Functions' grants.
    expect([...new Set(paths.map((p) => p.split(/[ []/)[0]))].sort()).toEqual([
      'AwsSolutions-IAM4',
      'AwsSolutions-IAM5',
    ]);
  });
});
