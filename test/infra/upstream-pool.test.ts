import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../functions/config';
import { readStackSettings } from '../../infra/settings';
import { VeoStack } from '../../infra/veo-stack';

/** The upstream pool in the deployment (issue 16): context `upstreams`, its secrets, metrics and alarms. */
const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};
const env = { account: '123456789012', region: 'us-east-1' };
const secret = (name: string) => `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}`;
const pool = [
  { name: 'kie-a', provider: 'kie', secretArn: secret('veo/kie-a-AbC123') },
  { name: 'kie-b', provider: 'kie', secretArn: secret('veo/kie-b-XyZ789'), priority: 1 },
];

function synthStack(context: Record<string, unknown>): VeoStack {
  const app = new App({ context: { ...cdkJson.context, ...context, 'aws:cdk:bundling-stacks': [] } });
  return new VeoStack(app, 'VeoServerless', { settings: readStackSettings(app.node), env });
}

type Resource = { Type: string; Properties: Record<string, unknown> };

/** The function whose logical id starts with `prefix` (e.g. FunctionsWorker). */
function fnResource(template: Template, prefix: string): [string, Resource] {
  const found = Object.entries(
    template.findResources('AWS::Lambda::Function') as Record<string, Resource>,
  ).find(([id]) => new RegExp(`^${prefix}[0-9A-F]{8}$`).test(id));
  if (!found) throw new Error(`no function ${prefix}`);
  return found;
}

/** The secret ARNs a function's role may read. */
function secretsReadBy(template: Template, prefix: string): string[] {
  const [, fn] = fnResource(template, prefix);
  const role = JSON.stringify(fn.Properties.Role);
  const policies = Object.values(
    template.findResources('AWS::IAM::Policy') as Record<string, Resource>,
  ).filter((policy) =>
    JSON.stringify(policy.Properties.Roles).includes(JSON.parse(role)['Fn::GetAtt']?.[0] ?? '?'),
  );
  const statements = policies.flatMap(
    (p) => (p.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }).Statement,
  );
  return statements
    .filter((s) => JSON.stringify(s.Action).includes('secretsmanager:GetSecretValue'))
    .flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]))
    .map((r) => JSON.stringify(r));
}

describe('context upstreams', () => {
  const stack = synthStack({ upstreams: JSON.stringify(pool) });
  const template = Template.fromStack(stack);

  it('reaches the functions as UPSTREAMS, which their own config accepts', () => {
    const [, worker] = fnResource(template, 'FunctionsWorker');
    const variables = (worker.Properties.Environment as { Variables: Record<string, string> }).Variables;
    expect(JSON.parse(variables.UPSTREAMS ?? '')).toEqual([{ ...pool[0], priority: 0 }, { ...pool[1] }]);
    const config = loadConfig({
      TASKS_TABLE: 't',
      API_KEYS_TABLE: 'k',
      COUNTERS_TABLE: 'c',
      VIDEO_BUCKET: 'v',
      GENERATE_QUEUE_URL: 'https://sqs.invalid/g',
      RESERVED_QUEUE_URL: 'https://sqs.invalid/r',
      POLL_QUEUE_URL: 'https://sqs.invalid/p',
      NOTIFY_QUEUE_URL: 'https://sqs.invalid/n',
      UPSTREAMS: variables.UPSTREAMS,
    });
    expect(config.UPSTREAMS?.map((u) => u.name)).toEqual(['kie-a', 'kie-b']);
  });

  it("grants each upstream's secret to exactly the functions that call upstreams", () => {
    for (const fn of ['FunctionsWorker', 'FunctionsPoller', 'FunctionsUpstreamCallback']) {
      const read = secretsReadBy(template, fn).join(' ');
      expect(read, fn).toContain('veo/kie-a-AbC123');
      expect(read, fn).toContain('veo/kie-b-XyZ789');
    }
    for (const fn of ['FunctionsApi', 'FunctionsNotifier', 'FunctionsSweeper'])
      expect(secretsReadBy(template, fn), fn).toEqual([]);
  });

  it('raises an alarm per upstream whose circuit stays open, and charts each upstream', () => {
    for (const name of ['kie-a', 'kie-b']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'VeoServerless',
        MetricName: 'UpstreamCircuitOpen',
        Dimensions: Match.arrayWith([{ Name: 'upstream', Value: name }]),
        EvaluationPeriods: 5,
        TreatMissingData: 'notBreaching',
      });
    }
    const dashboard = JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'));
    for (const metric of ['UpstreamSubmits', 'UpstreamRefusals', 'UpstreamFailures', 'UpstreamSubmitLatency'])
      expect(dashboard).toContain(metric);
    expect(dashboard).toContain('kie-b');
  });

  it('reports nothing unacknowledged to cdk-nag', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });

  it.each([
    ['not JSON', 'must be a JSON array'],
    [JSON.stringify([{ name: 'Kie A', provider: 'kie', secretArn: secret('x') }]), '[0].name'],
    [JSON.stringify([{ name: 'a', provider: 'kie' }]), '[0].secretArn'],
    [JSON.stringify([{ name: 'a', provider: 'kie', secret: { apiKey: 'k' } }]), '[0].secret'],
    [JSON.stringify([{ name: 'a', provider: 'kie', secretArn: 'kie-key' }]), '[0].secretArn'],
    [JSON.stringify([{ name: 'a', provider: 'simulator' }]), '[0].baseUrl'],
    [JSON.stringify([...pool, { ...pool[0] }]), 'is used twice'],
  ])('fails synth on %s, naming the field', (value, named) => {
    const attempt = () => synthStack({ upstreams: value });
    expect(attempt).toThrow('Invalid CDK context "upstreams"');
    expect(attempt).toThrow(named);
  });

  it('takes the list itself from cdk.json or props', () => {
    expect(readStackSettings(new App({ context: { upstreams: pool } }).node).upstreams?.length).toBe(2);
  });
});
