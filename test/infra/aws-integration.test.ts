import { createHash, createHmac } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterEach, describe, expect, it } from 'vitest';
import { routes } from '../../functions/http/api-routes';
import { VeoServerless } from '../../infra/veo-serverless';
import { submitterRoleName, submitterSourceFile, VideoPipelineStack } from './example-pipeline';

/** The README's example app (test/infra/example-pipeline.ts), synthesized, checked by cdk-nag, its caller run. */
const keyHash = createHash('sha256').update('example-key').digest('hex');
const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
const stack = new VideoPipelineStack(app, 'VideoPipeline', {
  env: { account: '123456789012', region: 'eu-west-1' },
  keyHash,
});
const template = Template.fromStack(stack);

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
type PolicyResource = {
  Properties: { PolicyDocument: { Statement: Statement[] }; Roles: { Ref: string }[] };
};
const policies = () =>
  Object.values(template.findResources('AWS::IAM::Policy') as Record<string, PolicyResource>);
function statementsWith(action: string): Statement[] {
  return policies()
    .flatMap((p) => p.Properties.PolicyDocument.Statement)
    .filter((s) => [s.Action].flat().includes(action));
}
/** The statements of the policies attached to the role whose logical id starts with `prefix`. */
function statementsOfRole(prefix: string): Statement[] {
  return policies()
    .filter((p) => p.Properties.Roles.some((r) => r.Ref.startsWith(prefix)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}
const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as never);

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

  it("grants the submitter each IAM route by its exact ARN, and maps its role's ARN to the key", () => {
    const [invoke, ...others] = statementsWith('execute-api:Invoke');
    expect(others).toEqual([]);
    const arns = [invoke?.Resource].flat().map((arn) => JSON.stringify(arn));
    const apiId = logicalId(stack.veo.api.httpApi);
    expect(arns).toEqual(
      Object.keys(routes).map((routeKey) => {
        const [method, path] = routeKey.split(' ');
        return JSON.stringify({
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':execute-api:eu-west-1:123456789012:',
              { Ref: apiId },
              `/$default/${method}/iam${path}`,
            ],
          ],
        });
      }),
    );
    expect(arns.join()).not.toContain('*');
    const notifier = Object.values(
      template.findResources('AWS::Lambda::Function') as Record<
        string,
        { Properties: { Environment?: { Variables?: Record<string, unknown> } } }
      >,
    )
      .map((f) => f.Properties.Environment?.Variables ?? {})
      .find((v) => v.IAM_PRINCIPALS !== undefined);
    expect(JSON.parse(String(notifier?.IAM_PRINCIPALS))).toEqual({
      [`arn:aws:iam::123456789012:role/${submitterRoleName}`]: keyHash,
    });
  });

  it("gives the submitter's own role exactly its log group and the IAM routes, no managed policy", () => {
    const roleId = stack.getLogicalId(stack.submitter.role?.node.defaultChild as never);
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: submitterRoleName,
      ManagedPolicyArns: Match.absent(),
    });
    expect(
      statementsOfRole(roleId).map((s) => [[s.Action].flat(), JSON.stringify(s.Resource).includes('*')]),
    ).toEqual([
      [['logs:CreateLogStream', 'logs:PutLogEvents'], false],
      [['execute-api:Invoke'], false],
    ]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Role: { 'Fn::GetAtt': [roleId, 'Arn'] },
      LoggingConfig: { LogGroup: Match.anyValue() },
    });
  });

  it('lets the state machine invoke the submitter alias only', () => {
    const roleId = stack.getLogicalId(stack.stateMachine.role.node.defaultChild as never);
    const invoke = statementsOfRole(roleId).filter((s) =>
      [s.Action].flat().includes('lambda:InvokeFunction'),
    );
    const [alias] = Object.keys(template.findResources('AWS::Lambda::Alias'));
    expect(invoke.map((s) => s.Resource)).toEqual([{ Ref: alias }]);
  });

  it('gives the worker and the notifier events:PutEvents on the bus, and the notifier states:SendTask*', () => {
    // The worker publishes a task's queued and submitted events, the notifier the rest.
    const putEvents = statementsWith('events:PutEvents');
    expect(putEvents).toHaveLength(2);
    for (const statement of putEvents) expect(JSON.stringify(statement)).toContain('event-bus/default');
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

  it('passes cdk-nag AwsSolutions with nothing unacknowledged, and nothing acknowledged on the submitter', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(
      report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath}`)),
    ).toEqual([]);
    expect(report.success).toBe(true);
    // The example's own acknowledgements (the service's are checked by veo-stack.test.ts), each with why.
    const acknowledged = stack.node
      .findAll()
      .filter((c) => !c.node.path.startsWith('VideoPipeline/Veo/'))
      .flatMap((c) =>
        c.node.metadata
          .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          .flatMap((m) =>
            Object.keys(m.data as Record<string, string>).map(
              (id) => `${c.node.path} ${id.replace(/^Annotation::/, '')}`,
            ),
          ),
      );
    expect(acknowledged.sort()).toEqual([
      'VideoPipeline/FinishedVideos AwsSolutions-SQS3',
      'VideoPipeline/VideoPipeline AwsSolutions-IAM5[Resource::*]',
    ]);
  });
});

describe("the submitter's code (the IAM caller)", () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  /** Runs the inline Lambda's handler as Lambda would, against a stand-in for API Gateway on loopback. */
  async function invokeSubmitter(answer: unknown) {
    const received: { method?: string; url?: string; headers: IncomingHttpHeaders; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        received.push({ method: req.method, url: req.url, headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    Object.assign(process.env, {
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'ASIAEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'example-secret',
      AWS_SESSION_TOKEN: 'example-session',
      VEO_IAM_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/iam/api/v1`,
    });
    // CommonJS evaluated as Lambda's Node.js runtime loads an inline index.js.
    const module = { exports: {} as { handler?: (event: unknown) => Promise<unknown> } };
    new Function('require', 'module', 'exports', readFileSync(submitterSourceFile, 'utf8'))(
      createRequire(submitterSourceFile),
      module,
      module.exports,
    );
    try {
      const result = await module.exports.handler?.({ prompt: 'a fox in snow', taskToken: 'AQB-token' });
      return { result, received };
    } catch (error) {
      return { error, received };
    } finally {
      server.close();
    }
  }

  it('POSTs the prompt and task token to the IAM generate route, SigV4-signed for execute-api', async () => {
    const { result, received } = await invokeSubmitter({ code: 200, msg: 'success', data: { taskId: 't1' } });
    expect(result).toEqual({ taskId: 't1' });
    const [request] = received;
    expect([request?.method, request?.url]).toEqual(['POST', '/iam/api/v1/veo/generate']);
    expect(JSON.parse(request?.body ?? '')).toEqual({
      prompt: 'a fox in snow',
      model: 'veo3_fast',
      taskToken: 'AQB-token',
    });
    const headers = request?.headers ?? {};
    expect(headers['x-amz-security-token']).toBe('example-session');
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[^,]*host/,
    );
    // The signature covers the request as it arrived (its Host with the port, its body): signed anew, equal.
    const date = String(headers['x-amz-date']);
    const expected = await new SignatureV4({
      service: 'execute-api',
      region: 'eu-west-1',
      credentials: {
        accessKeyId: 'ASIAEXAMPLE',
        secretAccessKey: 'example-secret',
        sessionToken: 'example-session',
      },
      sha256: NodeSha256,
    }).sign(
      {
        method: 'POST',
        protocol: 'http:',
        hostname: '127.0.0.1',
        path: request?.url ?? '',
        headers: { host: String(headers.host), 'content-type': String(headers['content-type']) },
        body: request?.body,
      },
      {
        signingDate: new Date(
          date.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'),
        ),
      },
    );
    expect(headers.authorization).toBe(expected.headers.authorization);
  });

  it("fails the step with kie's code when the service refuses", async () => {
    const { error } = await invokeSubmitter({
      code: 401,
      msg: 'You do not have access permissions: this IAM principal is not mapped to an API key',
      data: null,
    });
    expect(String(error)).toBe(
      'Error: Veo.401: You do not have access permissions: this IAM principal is not mapped to an API key',
    );
  });
});

/** SHA-256 as SignatureV4 wants it (an HMAC when given a secret), from node:crypto. */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: SourceData) =>
  typeof data === 'string'
    ? Buffer.from(data)
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);
class NodeSha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData) {
    this.hash.update(bytes(data));
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}

describe("the README's section quotes the example", () => {
  const read = (url: URL) => readFileSync(url, 'utf8');
  /** The `#region NAME` parts of a file, dedented. */
  function regions(text: string): Record<string, string> {
    const found: Record<string, string> = {};
    for (const [, name, body = ''] of text.matchAll(/\/\/ #region (\S+)\n([\s\S]*?)\n\s*\/\/ #endregion/g)) {
      const lines = body.split('\n');
      const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)?.[0].length ?? 0));
      found[name ?? ''] = lines.map((l) => l.slice(indent)).join('\n');
    }
    return found;
  }

  it('shows a rule, a state machine step and an IAM caller exactly as the tested example has them', () => {
    const readme = read(new URL('../../README.md', import.meta.url));
    const start = readme.indexOf('## Use it from other AWS services');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    const blocks = [...section.matchAll(/```(?:ts|js)\n([\s\S]*?)\n```/g)].map((m) => m[1]);
    const example = regions(read(new URL('./example-pipeline.ts', import.meta.url)));
    const submitter = regions(read(submitterSourceFile));
    expect(blocks).toEqual([
      example['readme-rule'],
      example['readme-state-machine-step'],
      example['readme-iam-caller'],
      submitter['readme-iam-caller-code'],
    ]);
  });
});
