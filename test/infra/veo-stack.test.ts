import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { App, type Environment } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import {
  apiKeyTable,
  counterTable,
  numericAttributes,
  type TableLayout,
  taskTable,
} from '../../functions/adapters/dynamodb/tables';
import { configSchema } from '../../functions/config';
import { functions as manifest } from '../../functions/manifest';
import { siteRouteKeys } from '../../functions/site/static-site';
import { externalModules } from '../../infra/bundling';
import { readStackSettings } from '../../infra/settings';
import { VeoStack } from '../../infra/veo-stack';

const simulatorUrl = 'https://simulator.example.com';

/** The context `cdk synth` uses (feature flags included), so the template here is the deployed one. */
const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

function synthApp(
  context: Record<string, unknown> = {},
  bundle = false,
  env?: Environment,
): { app: App; stack: VeoStack } {
  const app = new App({
    context: {
      ...cdkJson.context,
      // A synth must name its provider; the simulator also needs an address (see the context tests).
      ...(context.provider === undefined && { provider: 'simulator', providerBaseUrl: simulatorUrl }),
      ...context,
      // Bundling runs esbuild five times; only the bundling test below pays for it.
      ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
    },
  });
  const stack = new VeoStack(app, 'VeoServerless', { settings: readStackSettings(app.node), env });
  return { app, stack };
}

function synth(context: Record<string, unknown> = {}): Template {
  return Template.fromStack(synthApp(context).stack);
}

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };

/** What active tracing grants every function, sorted. */
const xrayActions = ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'];

/** Every action an IAM policy resource allows. */
function policyActions(policy: Resource): unknown[] {
  const document = policy.Properties.PolicyDocument as { Statement: { Action: unknown }[] };
  return document.Statement.flatMap((statement) => statement.Action);
}

/** The one resource of `type` at construct path `path` (its logical id is the path plus a hash). */
function only(template: Template, type: string, path: string): [string, Resource] {
  const logicalId = new RegExp(`^${path}[0-9A-F]{8}$`);
  const matches = Object.entries(template.findResources(type) as Record<string, Resource>).filter(([id]) =>
    logicalId.test(id),
  );
  expect(
    matches.map(([id]) => id),
    `${type} ${path}`,
  ).toHaveLength(1);
  return matches[0] as [string, Resource];
}

/** Construct paths inside the stack: the VeoServerless construct is `Default`, which logical ids leave out. */
const fnIds = {
  api: 'FunctionsApi',
  upstreamCallback: 'FunctionsUpstreamCallback',
  worker: 'FunctionsWorker',
  poller: 'FunctionsPoller',
  notifier: 'FunctionsNotifier',
  sweeper: 'FunctionsSweeper',
} as const;
const siteFnId = 'FunctionsSite';
type Fn = keyof typeof fnIds;

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** The statements of the inline policy attached to a function's role. */
function statementsOf(template: Template, fn: Fn): Statement[] {
  const [roleId] = only(template, 'AWS::IAM::Role', `${fnIds[fn]}ServiceRole`);
  const policies = Object.values(
    template.findResources('AWS::IAM::Policy') as Record<string, Resource>,
  ).filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]));
  const [policy, ...others] = policies;
  expect(others).toHaveLength(0);
  if (!policy) throw new Error(`${fn} has no inline policy`);
  return (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
}

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** IAM's action matching: `s3:Get*` allows s3:GetObject. */
function actionAllows(pattern: string, action: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i');
  return regex.test(action);
}

/** Whether `fn` may perform `action` on a resource whose ARN is built from `targetId` (a logical id). */
function allows(template: Template, fn: Fn, action: string, targetId: string, suffix?: string): boolean {
  return statementsOf(template, fn).some(
    (s) =>
      s.Effect === 'Allow' &&
      asList(s.Action).some((a) => actionAllows(a, action)) &&
      asList(s.Resource).some((r) => {
        const text = JSON.stringify(r);
        return text.includes(`"${targetId}"`) && (suffix === undefined || text.includes(suffix));
      }),
  );
}

/** Whether `fn` has any statement allowing `action` at all, whatever the resource. */
function mayAct(template: Template, fn: Fn, action: string): boolean {
  return statementsOf(template, fn).some(
    (s) => s.Effect === 'Allow' && asList(s.Action).some((a) => actionAllows(a, action)),
  );
}

const functionsOf = (t: Template) => t.findResources('AWS::Lambda::Function') as Record<string, Resource>;

/** The function resource `fn` of template `t`. */
function fnOf(t: Template, fn: Fn): Resource['Properties'] {
  return only(t, 'AWS::Lambda::Function', fnIds[fn])[1].Properties;
}

/** The environment variables of `fn` in template `t`. */
function envOf(t: Template, fn: Fn): Record<string, unknown> {
  return (fnOf(t, fn).Environment as { Variables: Record<string, unknown> }).Variables;
}

/** Every logical id a resource refers to: Ref, Fn::GetAtt, ${…} in Fn::Sub, and DependsOn. */
function referencesOf(resource: unknown): Set<string> {
  const found = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'Ref' && typeof value === 'string') found.add(value);
      else if (key === 'Fn::GetAtt')
        found.add(String(Array.isArray(value) ? value[0] : value).split('.')[0] ?? '');
      else if (key === 'Fn::Sub') {
        const text = String(Array.isArray(value) ? value[0] : value);
        for (const [, id = ''] of text.matchAll(/\$\{([^}.!]+)[^}]*\}/g)) found.add(id);
        walk(value);
      } else if (key === 'DependsOn') for (const id of asList(value as string | string[])) found.add(id);
      else walk(value);
    }
  };
  walk(resource);
  return found;
}

/** A dependency cycle among the template's resources, as a list of logical ids, or undefined. */
function findCycle(resources: Record<string, unknown>): string[] | undefined {
  const edges = new Map(
    Object.entries(resources).map(([id, r]) => [id, [...referencesOf(r)].filter((ref) => ref in resources)]),
  );
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'open') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'open');
    path.push(id);
    for (const next of edges.get(id) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const id of edges.keys()) {
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return undefined;
}

const account = '123456789012';
const secretArn = (name: string) => `arn:aws:secretsmanager:us-east-1:${account}:secret:${name}`;
const layerArn = `arn:aws:lambda:us-east-1:${account}:layer:ffmpeg-arm64:3`;
/** A complete secret ARN, with the random suffix Secrets Manager appends to the name. */
const kieSecret = secretArn('veo/kie-AbC123');

const template = synth();
/** Every option on: kie with its secret, translation (the default), the ffmpeg layer. */
const full = synth({ provider: 'kie', providerSecretArn: kieSecret, ffmpegLayerArn: layerArn });
type QueueId = 'Generate' | 'Reserved' | 'Poll' | 'Notify';
const queueIds = ['Generate', 'Reserved', 'Poll', 'Notify'] as const;
const queueId = (name: QueueId) => only(template, 'AWS::SQS::Queue', `Queues${name}`)[0];
const dlqId = (name: QueueId) => only(template, 'AWS::SQS::Queue', `Queues${name}Dlq`)[0];
const fnId = (fn: Fn) => only(template, 'AWS::Lambda::Function', fnIds[fn])[0];
const bucketId = () => only(template, 'AWS::S3::Bucket', 'StorageVideos')[0];
type TableName = 'Tasks' | 'ApiKeys' | 'Counters';
const tableId = (name: TableName) => only(template, 'AWS::DynamoDB::GlobalTable', `Storage${name}`)[0];

describe('HTTP API', () => {
  it('is an HTTP API with a throttled, auto-deployed $default stage and an ApiUrl output', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingBurstLimit: 100, ThrottlingRateLimit: 50 },
    });
    template.hasOutput('ApiUrl', { Value: Match.anyValue() });
  });

  it.each([
    ['$default', 'api'],
    ['POST /internal/upstream-callback', 'upstreamCallback'],
  ] as const)('routes %s to the %s function with payload format 2.0', (routeKey, fn) => {
    const routes = Object.values(
      template.findResources('AWS::ApiGatewayV2::Route') as Record<string, Resource>,
    );
    const route = routes.find((r) => r.Properties.RouteKey === routeKey);
    expect(route, routeKey).toBeDefined();
    const target = JSON.stringify(route?.Properties.Target);
    const [integrationId, integration] = Object.entries(
      template.findResources('AWS::ApiGatewayV2::Integration') as Record<string, Resource>,
    ).find(([id]) => target.includes(`"${id}"`)) ?? ['', undefined];
    expect(integration, `integration of ${routeKey}`).toBeDefined();
    expect(integration?.Properties).toMatchObject({
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [fnId(fn), 'Arn'] },
    });
    expect(integrationId).not.toBe('');
  });

  it('routes the pages (GET /, /playground, /docs and their files) to the site function, without authorization', () => {
    const siteId = only(template, 'AWS::Lambda::Function', siteFnId)[0];
    const routes = Object.values(
      template.findResources('AWS::ApiGatewayV2::Route') as Record<string, Resource>,
    );
    const integrations = template.findResources('AWS::ApiGatewayV2::Integration') as Record<string, Resource>;
    expect(siteRouteKeys).toEqual(expect.arrayContaining(['GET /', 'GET /playground', 'GET /docs']));
    for (const routeKey of siteRouteKeys) {
      const route = routes.find((r) => r.Properties.RouteKey === routeKey);
      expect(route, routeKey).toBeDefined();
      expect(route?.Properties.AuthorizationType ?? 'NONE', routeKey).toBe('NONE');
      const target = JSON.stringify(route?.Properties.Target);
      const integration = Object.entries(integrations).find(([id]) => target.includes(`"${id}"`))?.[1];
      expect(integration?.Properties, routeKey).toMatchObject({
        IntegrationType: 'AWS_PROXY',
        PayloadFormatVersion: '2.0',
        IntegrationUri: { 'Fn::GetAtt': [siteId, 'Arn'] },
      });
    }
    template.hasOutput('PlaygroundUrl', { Value: Match.anyValue() });
  });

  it('has no other routes, so unknown paths reach the api function', () => {
    // + GET and POST /iam/{proxy+}: the same api function behind AWS_IAM authorization.
    template.resourceCountIs('AWS::ApiGatewayV2::Route', 2 + siteRouteKeys.length + 2);
  });
});

describe('site function', () => {
  const [siteId, site] = only(template, 'AWS::Lambda::Function', siteFnId);

  it('knows only the video bucket (for its CSP) and may touch nothing: no policy beyond its logs and traces', () => {
    // The origin under the partition's own suffix (AWS::URLSuffix: amazonaws.com.cn in China).
    const origin = {
      'Fn::Join': [
        '',
        ['https://', { Ref: bucketId() }, '.s3.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }],
      ],
    };
    expect(site.Properties.Environment).toEqual({
      Variables: { VIDEO_BUCKET: { Ref: bucketId() }, VIDEO_ORIGIN: origin },
    });
    expect(site.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Timeout: 10 });
    const [roleId, role] = only(template, 'AWS::IAM::Role', `${siteFnId}ServiceRole`);
    expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toContain('AWSLambdaBasicExecutionRole');
    const policies = Object.values(template.findResources('AWS::IAM::Policy') as Record<string, Resource>);
    const own = policies.filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${roleId}"`));
    // Active tracing's grant (CDK adds it) is the only policy: writing segments to X-Ray.
    expect(own.flatMap((p) => policyActions(p)).sort()).toEqual(xrayActions);
    expect(siteId).toMatch(new RegExp(`^${siteFnId}`));
  });
});

describe('functions', () => {
  const functions = template.findResources('AWS::Lambda::Function') as Record<string, Resource>;

  it('are exactly the six entry points and the site (no CDK helper functions)', () => {
    const siteId = only(template, 'AWS::Lambda::Function', siteFnId)[0];
    expect(Object.keys(functions).sort()).toEqual([...(Object.keys(fnIds) as Fn[]).map(fnId), siteId].sort());
    expect(Object.keys(functions)).toHaveLength(7);
  });

  it('all run Node.js 22 on arm64 with the index.handler entry', () => {
    for (const [id, fn] of Object.entries(functions)) {
      expect(fn.Properties, id).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
      });
    }
  });

  it('all trace actively into X-Ray, each allowed to write its segments', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy') as Record<string, Resource>);
    for (const [id, fn] of Object.entries(functions)) {
      expect(fn.Properties.TracingConfig, id).toEqual({ Mode: 'Active' });
      const role = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const actions = policies
        .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${role}"`))
        .flatMap((p) => policyActions(p));
      expect(actions, id).toEqual(
        expect.arrayContaining(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']),
      );
    }
  });

  it('trace nothing with tracing off: no X-Ray mode, no X-Ray grant, and the functions told not to load it', () => {
    const off = synth({ tracing: 'false' });
    const fns = off.findResources('AWS::Lambda::Function') as Record<string, Resource>;
    const policies = Object.values(off.findResources('AWS::IAM::Policy') as Record<string, Resource>);
    expect(policies.flatMap((p) => policyActions(p))).not.toEqual(
      expect.arrayContaining(['xray:PutTraceSegments']),
    );
    for (const [id, fn] of Object.entries(fns)) {
      if (!id.startsWith('Functions')) continue;
      expect(fn.Properties.TracingConfig, id).toBeUndefined();
    }
    off.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ POWERTOOLS_TRACE_ENABLED: 'false' }) },
    });
    // On (the default), the variable is left to Powertools' own default.
    expect(JSON.stringify(functions)).not.toContain('POWERTOOLS_TRACE_ENABLED');
  });

  it.each([
    ['api', 10, 256],
    ['upstreamCallback', 10, 256],
    ['worker', 60, 256],
    ['poller', 300, 512],
    ['notifier', 60, 256],
    ['sweeper', 120, 256],
  ] as const)('%s has a %i s timeout and %i MB', (fn, timeout, memory) => {
    expect(functions[fnId(fn)]?.Properties).toMatchObject({ Timeout: timeout, MemorySize: memory });
  });

  it('each log to their own log group with a retention', () => {
    const groups = template.findResources('AWS::Logs::LogGroup') as Record<string, Resource>;
    const used = Object.values(functions).map((fn) => {
      const ref = (fn.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(groups[ref]?.Properties.RetentionInDays).toBeGreaterThan(0);
      return ref;
    });
    expect(new Set(used).size).toBe(7);
  });

  it('all get the same environment, the worker and the upstream callback also its URL, which satisfies functions/config.ts', () => {
    const first = envOf(template, 'api');
    for (const fn of ['poller', 'notifier'] as const) expect(envOf(template, fn), fn).toEqual(first);
    // The worker hands the URL to the upstream; the upstream callback checks Vertex AI's tokens name it.
    for (const fn of ['worker', 'upstreamCallback'] as const) {
      const { UPSTREAM_CALLBACK_URL, ...rest } = envOf(template, fn);
      expect(UPSTREAM_CALLBACK_URL, fn).toBeDefined();
      expect(rest, fn).toEqual(first);
    }
    expect(first).not.toHaveProperty('NODE_OPTIONS');
    expect(first).not.toHaveProperty('UPSTREAM_CALLBACK_URL');
    // References (table names, queue URLs) resolve at deploy time: stand in a URL, valid for both.
    const resolved = Object.fromEntries(
      Object.entries(envOf(template, 'worker')).map(([k, v]) => [
        k,
        typeof v === 'string' ? v : 'https://resolved.invalid/x',
      ]),
    );
    const config = configSchema.parse(resolved);
    expect(config).toMatchObject({
      PROVIDER: 'simulator',
      PROVIDER_BASE_URL: simulatorUrl,
      TRANSLATOR: 'amazon',
      FFMPEG_AVAILABLE: false,
      ALLOW_HTTP_CALLBACKS: false,
      RETENTION_DAYS: 14,
      POLL_INTERVAL_SECONDS: 10,
    });
    expect(first).toMatchObject({
      TASKS_TABLE: { Ref: tableId('Tasks') },
      API_KEYS_TABLE: { Ref: tableId('ApiKeys') },
      COUNTERS_TABLE: { Ref: tableId('Counters') },
      GENERATE_QUEUE_URL: { Ref: queueId('Generate') },
      RESERVED_QUEUE_URL: { Ref: queueId('Reserved') },
      POLL_QUEUE_URL: { Ref: queueId('Poll') },
      NOTIFY_QUEUE_URL: { Ref: queueId('Notify') },
      VIDEO_BUCKET: { Ref: bucketId() },
    });
    // The simulator needs no credentials, and no option is set that was not asked for.
    for (const key of [
      'PROVIDER_SECRET_ARN',
      'VERTEX_PROJECT',
      'VERTEX_REGION',
      'VERTEX_STORAGE_URI',
      'QUOTA_LIMIT',
      'QUOTA_WINDOW_SECONDS',
    ]) {
      expect(first, key).not.toHaveProperty(key);
    }
  });

  it("gives the worker and the upstream callback the HTTP API's upstream-callback route as UPSTREAM_CALLBACK_URL", () => {
    for (const t of [template, full]) {
      const [apiId] = only(t, 'AWS::ApiGatewayV2::Api', 'ApiHttpApi');
      const route = Object.values(
        t.findResources('AWS::ApiGatewayV2::Route') as Record<string, Resource>,
      ).find((r) => String(r.Properties.RouteKey).endsWith('/internal/upstream-callback'));
      const path = String(route?.Properties.RouteKey).split(' ')[1];
      expect(path).toBe('/internal/upstream-callback');
      for (const fn of ['worker', 'upstreamCallback'] as const)
        expect(envOf(t, fn).UPSTREAM_CALLBACK_URL, fn).toEqual({
          'Fn::Join': ['', [{ 'Fn::GetAtt': [apiId, 'ApiEndpoint'] }, path]],
        });
    }
  });

  it('form no dependency cycle with the HTTP API', () => {
    // The checker itself finds a cycle when there is one.
    expect(findCycle({ A: { Properties: { X: { Ref: 'B' } } }, B: { DependsOn: 'A' } })).toEqual([
      'A',
      'B',
      'A',
    ]);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's own ${} syntax, not JavaScript's.
    const sub = { 'Fn::Sub': 'arn:${B.Arn}/x' };
    expect(
      findCycle({ A: { Properties: { X: sub } }, B: { Properties: { Y: { 'Fn::GetAtt': ['A', 'Arn'] } } } }),
    ).toEqual(['A', 'B', 'A']);
    expect(findCycle({ A: { Properties: { X: sub } }, B: { Properties: {} } })).toBeUndefined();
    for (const t of [template, full]) {
      const resources = t.toJSON().Resources as Record<string, unknown>;
      // The worker does depend on the API (so the check below is not vacuous) ...
      expect(referencesOf(resources[fnId('worker')])).toContain(
        only(t, 'AWS::ApiGatewayV2::Api', 'ApiHttpApi')[0],
      );
      // ... and nothing depends back.
      expect(findCycle(resources)).toBeUndefined();
    }
  });
});

describe('queues', () => {
  it('are four work queues, each redriving to its own dead-letter queue after 5 receives', () => {
    template.resourceCountIs('AWS::SQS::Queue', 8);
    const targets = queueIds.map((name) => {
      template.hasResource('AWS::SQS::Queue', {
        Properties: Match.objectLike({
          RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId(name), 'Arn'] }, maxReceiveCount: 5 },
        }),
      });
      return dlqId(name);
    });
    expect(new Set(targets).size).toBe(4);
    const queues = template.findResources('AWS::SQS::Queue') as Record<string, Resource>;
    for (const dlq of targets) expect(queues[dlq]?.Properties.RedrivePolicy).toBeUndefined();
  });

  it('are all encrypted and refuse plain-HTTP access', () => {
    const queues = template.findResources('AWS::SQS::Queue') as Record<string, Resource>;
    for (const [id, queue] of Object.entries(queues))
      expect(queue.Properties.SqsManagedSseEnabled, id).toBe(true);
    const policies = Object.values(
      template.findResources('AWS::SQS::QueuePolicy') as Record<string, Resource>,
    );
    const secured = Object.keys(queues).filter((id) =>
      policies.some((p) => {
        const text = JSON.stringify(p.Properties);
        return (
          text.includes(`"${id}"`) && text.includes('"aws:SecureTransport":"false"') && text.includes('Deny')
        );
      }),
    );
    expect(secured.sort()).toEqual(Object.keys(queues).sort());
  });
});

describe('event sources', () => {
  const mappings = Object.values(
    template.findResources('AWS::Lambda::EventSourceMapping') as Record<string, Resource>,
  );

  /** The mapping of `fn` on `queue` (a function may drain several). */
  const mappingOf = (fn: Fn, queue: QueueId) =>
    mappings.find(
      (m) =>
        JSON.stringify(m.Properties.FunctionName) === JSON.stringify({ Ref: fnId(fn) }) &&
        JSON.stringify(m.Properties.EventSourceArn) ===
          JSON.stringify({ 'Fn::GetAtt': [queueId(queue), 'Arn'] }),
    );

  it('are four, reporting partial batch failures, each with its batch size and concurrency cap from the manifest', () => {
    expect(mappings).toHaveLength(4);
    for (const fn of ['worker', 'poller', 'notifier'] as const) {
      for (const trigger of manifest[fn].trigger.queues) {
        const queue = (trigger.queue[0]?.toUpperCase() + trigger.queue.slice(1)) as QueueId;
        const properties = mappingOf(fn, queue)?.Properties;
        expect(properties, `${fn} ${queue}`).toMatchObject({
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          BatchSize: trigger.batchSize,
          // Consumers cannot take the whole account's concurrency: the api keeps the rest.
          ScalingConfig: { MaximumConcurrency: trigger.maxConcurrency },
        });
        expect(trigger.maxConcurrency, fn).toBeGreaterThanOrEqual(2);
      }
    }
    // A window's reserved submits each wait in an invocation for their slots: enough for a window's worth.
    const reserved = mappingOf('worker', 'Reserved')?.Properties.ScalingConfig as {
      MaximumConcurrency: number;
    };
    const generate = mappingOf('worker', 'Generate')?.Properties.ScalingConfig as {
      MaximumConcurrency: number;
    };
    expect(reserved.MaximumConcurrency).toBeGreaterThan(generate.MaximumConcurrency);
  });

  it.each([
    ['worker', 'Generate'],
    ['worker', 'Reserved'],
    ['poller', 'Poll'],
    ['notifier', 'Notify'],
  ] as const)('%s consumes %s, whose visibility timeout is at least 6x its timeout', (fn, queue) => {
    expect(mappingOf(fn, queue)).toBeDefined();
    const queues = template.findResources('AWS::SQS::Queue') as Record<string, Resource>;
    const functions = template.findResources('AWS::Lambda::Function') as Record<string, Resource>;
    const visibility = queues[queueId(queue)]?.Properties.VisibilityTimeout as number;
    const timeout = functions[fnId(fn)]?.Properties.Timeout as number;
    expect(visibility).toBeGreaterThanOrEqual(6 * timeout);
  });
});

describe('tables', () => {
  /** What the layout says the table's keys are, in CloudFormation's terms. */
  function keySchema(partitionKey: string, sortKey?: string) {
    return [
      { AttributeName: partitionKey, KeyType: 'HASH' },
      ...(sortKey === undefined ? [] : [{ AttributeName: sortKey, KeyType: 'RANGE' }]),
    ];
  }
  const attributeType = (name: string) => (numericAttributes.has(name) ? 'N' : 'S');

  it('the task layout has a TTL attribute and an index, so the checks below are not vacuous', () => {
    expect(taskTable.ttlAttribute).toBeTruthy();
    expect(taskTable.indexes.length).toBeGreaterThan(0);
  });

  it('the counter layout is keyed by counterId and expires through TTL', () => {
    expect(counterTable).toEqual({ partitionKey: 'counterId', ttlAttribute: 'expiresAt', indexes: [] });
  });

  it.each([
    ['Tasks', taskTable],
    ['ApiKeys', apiKeyTable],
    ['Counters', counterTable],
  ] as [TableName, TableLayout][])('%s is built from its layout in tables.ts', (name, layout) => {
    const tables = template.findResources('AWS::DynamoDB::GlobalTable') as Record<string, Resource>;
    const table = tables[tableId(name)];
    const props = table?.Properties ?? {};
    expect(props.KeySchema).toEqual(keySchema(layout.partitionKey, layout.sortKey));
    expect(props.GlobalSecondaryIndexes ?? []).toEqual(
      layout.indexes.map((index) => ({
        IndexName: index.name,
        KeySchema: keySchema(index.partitionKey, index.sortKey),
        Projection: { ProjectionType: 'ALL' },
      })),
    );
    const keyAttributes = new Set([
      layout.partitionKey,
      ...(layout.sortKey ? [layout.sortKey] : []),
      ...layout.indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
    ]);
    expect(props.AttributeDefinitions).toEqual(
      expect.arrayContaining(
        [...keyAttributes].map((n) => ({ AttributeName: n, AttributeType: attributeType(n) })),
      ),
    );
    expect(props.AttributeDefinitions).toHaveLength(keyAttributes.size);
    expect(props.TimeToLiveSpecification).toEqual(
      layout.ttlAttribute ? { AttributeName: layout.ttlAttribute, Enabled: true } : undefined,
    );
    expect(props.BillingMode).toBe('PAY_PER_REQUEST');
    expect(props.Replicas).toEqual([
      expect.objectContaining({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
    ]);
    expect(table?.DeletionPolicy).toBe('Retain');
  });

  it('are exactly the three layouts', () => {
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 3);
  });
});

describe('video bucket', () => {
  it('is private, encrypted, kept on stack deletion, and expires videos/ after 14 days', () => {
    // The videos, and their server access logs.
    template.resourceCountIs('AWS::S3::Bucket', 2);
    const [logsId] = only(template, 'AWS::S3::Bucket', 'StorageAccessLogs');
    template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: { Ref: logsId }, LogFilePrefix: 'videos/' },
    });
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({ Prefix: 'videos/', ExpirationInDays: 14, Status: 'Enabled' }),
          ]),
        },
      }),
    });
  });

  it('refuses plain-HTTP access', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId() },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('follows the retentionDays context, given as a number or as a string from -c', () => {
    for (const retentionDays of [7, '7']) {
      synth({ retentionDays }).hasResourceProperties('AWS::S3::Bucket', {
        LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ ExpirationInDays: 7 })]) },
      });
    }
  });
});

describe('context', () => {
  it('refuses a synth that names no provider, saying which keys to set', () => {
    const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
    expect(cdkJson.context).not.toHaveProperty('provider');
    expect(() => readStackSettings(app.node)).toThrow(/Missing CDK context "provider"/);
    expect(() => readStackSettings(app.node)).toThrow(
      /-c provider=kie\|vertex\|gemini -c providerSecretArn=/,
    );
  });

  it('refuses the simulator without its base URL (every generation would fail)', () => {
    expect(() => synth({ provider: 'simulator' })).toThrow(/Missing CDK context "providerBaseUrl"/);
    expect(() => synth({ provider: 'simulator', providerBaseUrl: simulatorUrl })).not.toThrow();
  });
  it('flows into the functions environment', () => {
    const t = synth({
      allowHttpCallbacks: 'true',
      pollIntervalSeconds: 30,
      pushCheckSeconds: 240,
      providerBaseUrl: 'https://sim.example.com',
      veo3ModelId: 'veo-3.1-generate-001',
      veo3FastModelId: 'veo-3.1-fast-generate-001',
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          ALLOW_HTTP_CALLBACKS: 'true',
          POLL_INTERVAL_SECONDS: '30',
          PUSH_CHECK_SECONDS: '240',
          PROVIDER_BASE_URL: 'https://sim.example.com',
          VEO3_MODEL_ID: 'veo-3.1-generate-001',
          VEO3_FAST_MODEL_ID: 'veo-3.1-fast-generate-001',
        }),
      },
    });
  });

  it.each([
    ['retentionDays', 'two weeks'],
    ['provider', 'sora'],
    ['providerBaseUrl', 'not a url'],
    ['allowHttpCallbacks', 'yes'],
    ['tracing', 'off'],
    ['providerSecretArn', 'veo/kie'],
    ['providerSecretArn', `arn:aws:s3:::bucket`],
    ['vertexStorageUri', 's3://bucket/videos'],
    ['vertexPushAccount', 'not an email'],
    ['quotaLimit', '0'],
    ['quotaWindowSeconds', 'a minute'],
    ['translation', 'google'],
    ['ffmpegLayerArn', 'arn:aws:lambda:us-east-1:123456789012:function:ffmpeg'],
  ])('refuses %s=%s at synth time', (key, value) => {
    expect(() => synth({ [key]: value })).toThrow(new RegExp(`Invalid CDK context "${key}"`));
  });

  it.each([
    ['without a bucket', { provider: 'vertex', providerSecretArn: secretArn('veo/vertex-Xy12Zw') }],
    [
      'for another provider',
      { provider: 'kie', providerSecretArn: kieSecret, vertexStorageUri: 'gs://my-bucket/veo/' },
    ],
  ])("refuses Vertex AI's push %s, naming what it needs", (_, context) => {
    expect(() =>
      synth({ ...context, vertexPushAccount: 'veo-push@my-project.iam.gserviceaccount.com' }),
    ).toThrow(/Invalid CDK context "vertexPushAccount".*needs provider vertex and vertexStorageUri/);
  });

  it.each([
    ['gemini', ['apiKey']],
    ['vertex', ['serviceAccountJson']],
    ['kie', ['apiKey', 'webhookSecret']],
  ])(
    'refuses provider %s without providerSecretArn, naming the key and the JSON fields',
    (provider, fields) => {
      let message = '';
      try {
        synth({ provider });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toContain('"providerSecretArn"');
      expect(message).toContain(`"${provider}"`);
      for (const field of fields) expect(message).toContain(`"${field}"`);
      for (const other of ['apiKey', 'serviceAccountJson', 'webhookSecret'].filter(
        (f) => !fields.includes(f),
      )) {
        expect(message).not.toContain(`"${other}"`);
      }
    },
  );

  it.each([
    [
      'simulator',
      { providerBaseUrl: simulatorUrl },
      { PROVIDER_BASE_URL: simulatorUrl },
      ['PROVIDER_SECRET_ARN'],
    ],
    [
      'gemini',
      { providerSecretArn: secretArn('veo/gemini-Xy12Zw') },
      { PROVIDER_SECRET_ARN: secretArn('veo/gemini-Xy12Zw') },
      ['PROVIDER_BASE_URL'],
    ],
    [
      'vertex',
      {
        providerSecretArn: secretArn('veo/vertex-Xy12Zw'),
        vertexProject: 'my-project',
        vertexRegion: 'europe-west4',
        vertexStorageUri: 'gs://my-bucket/veo/',
        vertexPushAccount: 'veo-push@my-project.iam.gserviceaccount.com',
      },
      {
        PROVIDER_SECRET_ARN: secretArn('veo/vertex-Xy12Zw'),
        VERTEX_PROJECT: 'my-project',
        VERTEX_REGION: 'europe-west4',
        VERTEX_STORAGE_URI: 'gs://my-bucket/veo/',
        VERTEX_PUSH_ACCOUNT: 'veo-push@my-project.iam.gserviceaccount.com',
      },
      ['PROVIDER_BASE_URL'],
    ],
    [
      'kie',
      {
        providerSecretArn: kieSecret,
        providerBaseUrl: 'https://api.kie.example',
        quotaLimit: 15,
        quotaWindowSeconds: '10',
      },
      {
        PROVIDER_SECRET_ARN: kieSecret,
        PROVIDER_BASE_URL: 'https://api.kie.example',
        QUOTA_LIMIT: '15',
        QUOTA_WINDOW_SECONDS: '10',
      },
      ['VERTEX_PROJECT', 'VERTEX_REGION', 'VERTEX_STORAGE_URI'],
    ],
  ] as const)('deploys provider %s with its environment', (provider, context, expected, absent) => {
    const t = synth({ provider, ...context });
    for (const fn of Object.keys(fnIds) as Fn[]) {
      const env = envOf(t, fn);
      expect(env, fn).toMatchObject({ PROVIDER: provider, ...expected });
      for (const key of absent) expect(env, `${fn} ${key}`).not.toHaveProperty(key);
      // What the functions will read at cold start: valid, and the same values.
      const config = configSchema.parse(
        Object.fromEntries(
          Object.entries(env).map(([k, v]) => [k, typeof v === 'string' ? v : 'https://resolved.invalid/x']),
        ),
      );
      expect(config.PROVIDER).toBe(provider);
    }
  });

  it('translates prompts with Amazon Translate unless translation=none', () => {
    expect(envOf(template, 'worker').TRANSLATOR).toBe('amazon');
    const off = synth({ translation: 'none' });
    for (const fn of Object.keys(fnIds) as Fn[]) expect(envOf(off, fn).TRANSLATOR, fn).toBe('none');
    expect(mayAct(off, 'worker', 'translate:TranslateText')).toBe(false);
    expect(mayAct(off, 'worker', 'comprehend:DetectDominantLanguage')).toBe(false);
  });

  it('refuses a secret or a layer from another region than the stack', () => {
    const env = { account, region: 'eu-west-1' };
    expect(() => synthApp({ provider: 'kie', providerSecretArn: kieSecret }, false, env)).toThrow(
      /"providerSecretArn" is in us-east-1, but the stack deploys to eu-west-1/,
    );
    expect(() => synthApp({ ffmpegLayerArn: layerArn }, false, env)).toThrow(
      /"ffmpegLayerArn" is in us-east-1, but the stack deploys to eu-west-1/,
    );
    // Same region: accepted.
    expect(() =>
      synthApp({ provider: 'kie', providerSecretArn: kieSecret, ffmpegLayerArn: layerArn }, false, {
        account,
        region: 'us-east-1',
      }),
    ).not.toThrow();
  });
});

describe('ffmpeg layer', () => {
  const layersOf = (t: Template, fn: Fn) => fnOf(t, fn).Layers;

  it('is attached to the worker (Auto crop) and the poller (watermarks) only, when given', () => {
    for (const fn of Object.keys(fnIds) as Fn[]) {
      expect(layersOf(full, fn), fn).toEqual(fn === 'worker' || fn === 'poller' ? [layerArn] : undefined);
      expect(layersOf(template, fn), fn).toBeUndefined();
    }
  });

  it('turns FFMPEG_AVAILABLE on for every function (the api refuses watermarks without it)', () => {
    for (const fn of Object.keys(fnIds) as Fn[]) {
      expect(envOf(full, fn).FFMPEG_AVAILABLE, fn).toBe('true');
      expect(envOf(template, fn).FFMPEG_AVAILABLE, fn).toBe('false');
    }
  });

  it('gives the poller the memory (CPU) and /tmp to re-encode a video', () => {
    expect(fnOf(full, 'poller')).toMatchObject({ MemorySize: 2048, EphemeralStorage: { Size: 2048 } });
    expect(fnOf(template, 'poller').MemorySize).toBe(512);
    for (const fn of Object.keys(fnIds) as Fn[]) {
      expect(fnOf(template, fn).EphemeralStorage, fn).toBeUndefined();
      if (fn !== 'poller') expect(fnOf(full, fn).EphemeralStorage, fn).toBeUndefined();
    }
  });
});

describe('least privilege', () => {
  it('uses no wildcard resources but for translation on the worker, task tokens on the notifier and X-Ray, which IAM cannot scope', () => {
    const translation = ['comprehend:DetectDominantLanguage', 'translate:TranslateText'];
    for (const t of [template, full]) {
      // CDK merges statements on the same resource: compare each function's wildcard actions as a set.
      const wildcards = Object.fromEntries(
        (Object.keys(fnIds) as Fn[]).map((fn) => [
          fn,
          [
            ...new Set(
              statementsOf(t, fn)
                .filter((s) => asList(s.Resource).some((r) => typeof r === 'string' && r.includes('*')))
                .flatMap((s) => asList(s.Action)),
            ),
          ].sort(),
        ]),
      );
      expect(wildcards).toEqual({
        api: xrayActions,
        upstreamCallback: xrayActions,
        worker: [...translation, ...xrayActions],
        poller: xrayActions,
        notifier: ['states:SendTaskFailure', 'states:SendTaskSuccess', ...xrayActions].sort(),
        sweeper: xrayActions,
      });
    }
    expect(mayAct(template, 'worker', 'translate:TranslateText')).toBe(true);
    for (const fn of ['api', 'upstreamCallback', 'poller', 'notifier'] as const) {
      for (const action of translation) expect(mayAct(full, fn, action), `${fn} ${action}`).toBe(false);
    }
  });

  it('lets exactly the worker, the poller and the upstream callback read the provider secret', () => {
    const readers: Fn[] = ['worker', 'poller', 'upstreamCallback'];
    for (const fn of Object.keys(fnIds) as Fn[]) {
      expect(allows(full, fn, 'secretsmanager:GetSecretValue', kieSecret), fn).toBe(readers.includes(fn));
      if (!readers.includes(fn)) expect(mayAct(full, fn, 'secretsmanager:GetSecretValue'), fn).toBe(false);
      // The simulator has no secret, and nobody reads any.
      expect(mayAct(template, fn, 'secretsmanager:GetSecretValue'), fn).toBe(false);
    }
  });

  it('grants a partial secret ARN (no random suffix) as NAME-??????, never more', () => {
    const partial = secretArn('veo/gemini');
    const t = synth({ provider: 'gemini', providerSecretArn: partial });
    for (const fn of ['worker', 'poller', 'upstreamCallback'] as const) {
      expect(allows(t, fn, 'secretsmanager:GetSecretValue', `${partial}-??????`), fn).toBe(true);
      expect(allows(t, fn, 'secretsmanager:GetSecretValue', `${partial}*`), fn).toBe(false);
    }
    // The functions ask for the secret by the ARN they were given.
    expect(envOf(t, 'worker').PROVIDER_SECRET_ARN).toBe(partial);
  });

  it('lets only the poller write videos, and only under videos/', () => {
    const bucket = bucketId();
    expect(allows(template, 'poller', 's3:PutObject', bucket, '/videos/*')).toBe(true);
    expect(allows(template, 'poller', 's3:AbortMultipartUpload', bucket, '/videos/*')).toBe(true);
    for (const fn of ['api', 'upstreamCallback', 'worker', 'notifier'] as const) {
      expect(allows(template, fn, 's3:PutObject', bucket), fn).toBe(false);
    }
  });

  it('lets the presigning functions, the worker (extend) and the poller (watermark, 1080p/4K) read videos, under videos/ only', () => {
    for (const fn of ['api', 'notifier', 'worker', 'poller'] as const) {
      expect(allows(template, fn, 's3:GetObject', bucketId(), '/videos/*'), fn).toBe(true);
    }
    expect(allows(template, 'upstreamCallback', 's3:GetObject', bucketId())).toBe(false);
    // Exactly the object actions, never the s3:Get* / s3:List* families grantRead writes.
    for (const fn of Object.keys(fnIds) as Fn[]) {
      const s3 = statementsOf(template, fn).flatMap((s) =>
        asList(s.Action).filter((a) => a.startsWith('s3:')),
      );
      expect(
        s3.filter((a) => a.includes('*')),
        fn,
      ).toEqual([]);
      expect(mayAct(template, fn, 's3:ListBucket'), fn).toBe(false);
    }
  });

  it('lets each function send only to the queues its steps feed', () => {
    const sends: Record<Fn, QueueId[]> = {
      api: ['Generate', 'Poll', 'Notify'], // Notify: a cancelled task's callback
      upstreamCallback: ['Poll'],
      // Generate: a submit postponed; Reserved: one waiting for its slot of the upstream's quota
      worker: ['Generate', 'Reserved', 'Poll', 'Notify'],
      poller: ['Poll', 'Notify'],
      notifier: ['Notify'], // callback retries
      sweeper: ['Poll', 'Notify'], // a push not heard's first poll; the callback of each task it ends
    };
    for (const [fn, allowed] of Object.entries(sends) as [Fn, QueueId[]][]) {
      for (const queue of queueIds) {
        expect(allows(template, fn, 'sqs:SendMessage', queueId(queue)), `${fn} → ${queue}`).toBe(
          allowed.includes(queue),
        );
      }
    }
  });

  it('lets each consumer receive from its own queue only', () => {
    const consumes: Record<Fn, QueueId[]> = {
      api: [],
      upstreamCallback: [],
      worker: ['Generate', 'Reserved'],
      poller: ['Poll'],
      notifier: ['Notify'],
      sweeper: [],
    };
    for (const [fn, own] of Object.entries(consumes) as [Fn, QueueId[]][]) {
      for (const queue of queueIds) {
        expect(allows(template, fn, 'sqs:ReceiveMessage', queueId(queue)), `${fn} ← ${queue}`).toBe(
          own.includes(queue),
        );
        // Only the sweeper drains the dead-letter queues (and deletes what it handled).
        for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage']) {
          expect(allows(template, fn, action, dlqId(queue)), `${fn} ${action} ${queue} DLQ`).toBe(
            fn === 'sweeper',
          );
        }
      }
    }
  });

  it('runs the sweeper on a schedule (issue 14: the sweeper), with no retry of a missed run', () => {
    const rules = template.findResources('AWS::Events::Rule') as Record<string, Resource>;
    const sweeperRules = Object.values(rules).filter((r) =>
      JSON.stringify(r.Properties.Targets).includes(`"${fnId('sweeper')}"`),
    );
    expect(sweeperRules).toHaveLength(1);
    expect(sweeperRules[0]?.Properties).toMatchObject({
      ScheduleExpression: manifest.sweeper.trigger.schedule,
      State: 'ENABLED',
    });
    const permissions = Object.values(
      template.findResources('AWS::Lambda::Permission') as Record<string, Resource>,
    );
    expect(
      permissions.some(
        (p) =>
          p.Properties.Principal === 'events.amazonaws.com' &&
          JSON.stringify(p.Properties.FunctionName).includes(`"${fnId('sweeper')}"`),
      ),
    ).toBe(true);
    // It finds overdue tasks through the sparse index, never by a scan.
    expect(allows(template, 'sweeper', 'dynamodb:Query', tableId('Tasks'), '/index/bySweepAt')).toBe(true);
    expect(envOf(template, 'sweeper')).toMatchObject({ POLL_DLQ_URL: { Ref: dlqId('Poll') } });
  });

  it('lets only the worker (upstream quota, circuits), the poller (circuits) and the API (rate limits, idempotency) use the counters', () => {
    const counters = tableId('Counters');
    for (const fn of ['worker', 'poller', 'api'] as const) {
      for (const action of ['dynamodb:GetItem', 'dynamodb:PutItem']) {
        expect(allows(template, fn, action, counters), `${fn} ${action}`).toBe(true);
      }
    }
    for (const fn of ['upstreamCallback', 'notifier'] as const) {
      expect(allows(template, fn, 'dynamodb:GetItem', counters), fn).toBe(false);
      expect(allows(template, fn, 'dynamodb:PutItem', counters), fn).toBe(false);
    }
  });

  it('keeps the upstream callback away from the tables (a push only queues a poll)', () => {
    expect(allows(template, 'upstreamCallback', 'dynamodb:GetItem', tableId('Tasks'))).toBe(false);
    expect(allows(template, 'upstreamCallback', 'dynamodb:UpdateItem', tableId('Tasks'))).toBe(false);
    expect(allows(template, 'upstreamCallback', 'dynamodb:GetItem', tableId('ApiKeys'))).toBe(false);
    expect(allows(template, 'notifier', 'dynamodb:UpdateItem', tableId('ApiKeys'))).toBe(false);
  });
});

describe('exact DynamoDB actions (functions/manifest.ts)', () => {
  const tableIds = { tasks: 'Tasks', apiKeys: 'ApiKeys', counters: 'Counters' } as const;
  type Table = keyof typeof tableIds;

  /** The DynamoDB actions `fn` may perform on exactly `resource` (a table's ARN or an index's). */
  function dynamoActions(t: Template, fn: Fn, resource: unknown): string[] {
    const wanted = JSON.stringify(resource);
    return statementsOf(t, fn)
      .filter((s) => s.Effect === 'Allow' && asList(s.Resource).some((r) => JSON.stringify(r) === wanted))
      .flatMap((s) => asList(s.Action).filter((a) => a.startsWith('dynamodb:')))
      .sort();
  }
  const tableArn = (table: Table) => ({ 'Fn::GetAtt': [tableId(tableIds[table]), 'Arn'] });
  const indexArn = (table: Table, index: string) => ({
    'Fn::Join': ['', [tableArn(table), `/index/${index}`]],
  });

  it.each(Object.keys(fnIds) as Fn[])(
    '%s gets exactly the actions its manifest entry lists, per table',
    (fn) => {
      const tables: Partial<Record<Table, { actions: readonly string[]; queries?: readonly string[] }>> =
        manifest[fn].uses.tables;
      for (const table of Object.keys(tableIds) as Table[]) {
        const access = tables[table];
        expect(dynamoActions(template, fn, tableArn(table)), `${fn} on ${table}`).toEqual(
          (access?.actions ?? []).map((a) => `dynamodb:${a}`).sort(),
        );
        for (const index of access?.queries ?? []) {
          expect(dynamoActions(template, fn, indexArn(table, index)), `${fn} on ${table}/${index}`).toEqual([
            'dynamodb:Query',
          ]);
        }
      }
      // No DynamoDB action anywhere else: no wildcard action, no index/*, no other table.
      const dynamo = statementsOf(template, fn).filter((s) =>
        asList(s.Action).some((a) => a.startsWith('dynamodb:')),
      );
      for (const statement of dynamo) {
        expect(
          asList(statement.Action).filter((a) => a.includes('*')),
          fn,
        ).toEqual([]);
        expect(JSON.stringify(statement.Resource), fn).not.toContain('/index/*');
      }
    },
  );

  it('matches what the adapters send (issue 14 point 7), so the manifest is not just copied into the template', () => {
    const on = (fn: Fn, table: Table) => dynamoActions(template, fn, tableArn(table));
    // Worker and poller never write API keys but by the credit update of a refund.
    for (const fn of ['worker', 'poller'] as const) {
      expect(on(fn, 'apiKeys'), fn).toEqual(['dynamodb:UpdateItem']);
    }
    for (const fn of Object.keys(fnIds) as Fn[]) {
      // Nobody scans, deletes or batch-writes anything; keys are created by the operator's tool only.
      for (const action of ['Scan', 'DeleteItem', 'BatchWriteItem']) {
        expect(mayAct(template, fn, `dynamodb:${action}`), `${fn} ${action}`).toBe(false);
      }
      expect(on(fn, 'apiKeys'), fn).not.toContain('dynamodb:PutItem');
    }
    // The api: create (Put in the charge transaction), read, cancel and 1080p/4K (Update); lists through the index only.
    expect(on('api', 'tasks')).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    expect(dynamoActions(template, 'api', indexArn('tasks', 'byKey'))).toEqual(['dynamodb:Query']);
    expect(on('api', 'apiKeys')).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    // The notifier reads a task with its owner in one BatchGetItem; never changes credits.
    expect(on('notifier', 'apiKeys')).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem']);
    expect(on('upstreamCallback', 'tasks')).toEqual([]);
  });
});

describe('api concurrency', () => {
  it('reserves none by default: the consumers are capped instead', () => {
    expect(fnOf(template, 'api').ReservedConcurrentExecutions).toBeUndefined();
  });

  it('reserves apiReservedConcurrency when given, and refuses a value that is not a positive integer', () => {
    expect(fnOf(synth({ apiReservedConcurrency: '50' }), 'api').ReservedConcurrentExecutions).toBe(50);
    expect(() => synth({ apiReservedConcurrency: 0 })).toThrow(
      /Invalid CDK context "apiReservedConcurrency"/,
    );
  });
});

describe('alarms', () => {
  it('watch every dead-letter queue for a visible message', () => {
    for (const name of queueIds) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId(name), 'QueueName'] } }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }
  });

  it('watch the oldest message of every work queue, each with its own limit', () => {
    const minutes = { Generate: 15, Reserved: 15, Poll: 20, Notify: 45 } as const;
    for (const [name, limit] of Object.entries(minutes) as [QueueId, number][]) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId(name), 'QueueName'] } }],
        Threshold: limit * 60,
      });
    }
  });

  it('watch the failure rate of finished tasks, silent when none finished', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 20,
      TreatMissingData: 'notBreaching',
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: '100 * failed / (succeeded + failed)' }),
        Match.objectLike({
          Id: 'failed',
          MetricStat: Match.objectLike({
            Metric: Match.objectLike({ Namespace: 'VeoServerless', MetricName: 'TasksFailed' }),
          }),
        }),
      ]),
    });
    // 4 dead-letter queues, 4 oldest-message ages, 1 failure rate, 1 sweeper.
    template.resourceCountIs('AWS::CloudWatch::Alarm', 10);
  });

  it('go off as soon as the sweeper ends a task or a rendition, or drains a dead letter, in 15 min', () => {
    const metric = (id: string, name: string) =>
      Match.objectLike({
        Id: id,
        MetricStat: Match.objectLike({
          Metric: Match.objectLike({ Namespace: 'VeoServerless', MetricName: name }),
          Period: 900,
          Stat: 'Sum',
        }),
      });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'tasks + renditions + deadLetters' }),
        metric('tasks', 'TasksSwept'),
        metric('renditions', 'RenditionsSwept'),
        metric('deadLetters', 'DeadLettersSwept'),
      ]),
    });
  });

  it('come with one dashboard', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'VeoServerless' });
    // Beside what the sweeper ends, the tasks it started polling because their push did not come.
    const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]);
    for (const metric of ['TasksSwept', 'DeadLettersSwept', 'PushesNotHeard']) expect(body).toContain(metric);
  });
});

describe('cdk-nag AwsSolutions', () => {
  // Every finding is either fixed or acknowledged next to its resource, with the reason.
  it.each([
    ['default settings', {}],
    [
      'kie with a secret, ffmpeg and translation',
      {
        provider: 'kie',
        providerSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:veo-AbCdEf',
        ffmpegLayerArn: 'arn:aws:lambda:us-east-1:123456789012:layer:ffmpeg:1',
        translation: 'amazon',
      },
    ],
    ['tracing off', { tracing: 'false' }],
  ])('reports nothing unacknowledged (%s)', (_, context) => {
    const { stack } = synthApp(context, false, { account: '123456789012', region: 'us-east-1' });
    const report = new AwsSolutionsChecks().validateScope(stack);
    const findings = report.violations.map(
      (v) => `${v.ruleName} (${v.severity}): ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });
});

describe('bundling settings (infra/bundling.ts, shared with the bench)', () => {
  it('bundles the AWS SDK, and google-auth-library only for the Vertex AI provider', () => {
    for (const provider of ['simulator', 'gemini', 'kie', undefined]) {
      expect(externalModules(provider)).toEqual(['google-auth-library']);
    }
    expect(externalModules('vertex')).toEqual([]);
  });
});

describe('cdk synth with real bundling', () => {
  /** Starts a bundle as Lambda would import it, with ffmpeg "present"; resolves to its exit code and stderr. */
  function coldStart(dir: string): { status: number | null; stderr: string } {
    const result = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `await import(${JSON.stringify(pathToFileURL(join(dir, 'index.mjs')).href)});`,
      ],
      {
        cwd: dir,
        encoding: 'utf8',
        timeout: 30_000,
        env: {
          PATH: process.env.PATH,
          AWS_REGION: 'us-east-1',
          TASKS_TABLE: 'tasks',
          API_KEYS_TABLE: 'api-keys',
          COUNTERS_TABLE: 'counters',
          VIDEO_BUCKET: 'videos',
          GENERATE_QUEUE_URL: 'https://sqs.invalid/generate',
          RESERVED_QUEUE_URL: 'https://sqs.invalid/reserved',
          POLL_QUEUE_URL: 'https://sqs.invalid/poll',
          NOTIFY_QUEUE_URL: 'https://sqs.invalid/notify',
          PROVIDER_BASE_URL: 'https://simulator.invalid',
          // Any executable passes findFfmpeg; nothing runs it at start-up, but the watermarker is built.
          FFMPEG_PATH: process.execPath,
        },
      },
    );
    return { status: result.status, stderr: result.stderr };
  }

  /** Imports the site bundle as Lambda would and calls its handler for one path. */
  function serveFromBundle(dir: string, path: string) {
    const script = `
      const { handler } = await import(${JSON.stringify(pathToFileURL(join(dir, 'index.mjs')).href)});
      const r = await handler({ rawPath: ${JSON.stringify(path)}, headers: {}, requestContext: { http: { method: 'GET' } } });
      const body = Buffer.from(r.body, r.isBase64Encoded ? 'base64' : 'utf8').toString('utf8');
      console.log(JSON.stringify({ statusCode: r.statusCode, contentType: r.headers['content-type'],
        csp: r.headers['content-security-policy'], body: body.slice(0, 2000) }));`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', VIDEO_BUCKET: 'videos' },
    });
    expect(result.stderr).toBe('');
    return JSON.parse(result.stdout) as Record<string, unknown>;
  }

  it('bundles every function with esbuild into index.mjs and lazily loaded chunks that provide require, the font beside the ffmpeg users, the pages beside the site', {
    timeout: 120_000,
  }, () => {
    const { app, stack } = synthApp({}, true);
    const assembly = app.synth();
    try {
      const t = Template.fromStack(stack);
      const assetDir = (fn: Fn) => {
        const key = (fnOf(t, fn).Code as { S3Key: string }).S3Key;
        return join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`);
      };
      const fns = Object.keys(fnIds) as Fn[];
      expect(new Set(fns.map(assetDir)).size).toBe(6);
      expect(Object.keys(functionsOf(t))).toHaveLength(7);
      const sourceFont = readFileSync(
        fileURLToPath(new URL('../../functions/adapters/media/assets/DejaVuSans-Bold.ttf', import.meta.url)),
      );
      const isChunk = (file: string) => /^chunk-[A-Z0-9]+\.mjs$/.test(file);
      for (const fn of fns) {
        const dir = assetDir(fn);
        expect(existsSync(dir), dir).toBe(true);
        const withFont = fn === 'poller';
        const withSharp = fn === 'worker';
        const files = readdirSync(dir).sort();
        expect(
          files.filter((file) => !isChunk(file)),
          fn,
        ).toEqual(
          withFont
            ? ['assets', 'index.mjs']
            : withSharp
              ? ['index.mjs', 'node_modules', 'package-lock.json', 'package.json']
              : ['index.mjs'],
        );
        const modules = ['index.mjs', ...files.filter(isChunk)].map((file) => ({
          file,
          code: readFileSync(join(dir, file), 'utf8'),
        }));
        const index = modules[0]?.code ?? '';
        const code = modules.map((m) => m.code).join('\n');
        // Split: what is loaded only through import() is a chunk of its own, not compiled at cold start.
        expect(modules.length, fn).toBeGreaterThan(1);
        if (fn === 'api' || fn === 'worker' || fn === 'poller' || fn === 'notifier') {
          // The S3 client (functions/composition/videos.ts): in the bundle, not in what a cold start compiles;
          // URLs are signed without it.
          expect(code.includes('"@aws-sdk/client-s3"'), fn).toBe(true);
          expect(index.includes('"@aws-sdk/client-s3"'), fn).toBe(false);
        }
        if (withSharp) {
          // sharp is imported from node_modules, installed for Lambda's platform, not this machine's.
          expect(code).toContain('import("sharp")');
          expect(existsSync(join(dir, 'node_modules/@img/sharp-linux-arm64/package.json'))).toBe(true);
          expect(existsSync(join(dir, 'node_modules/@img/sharp-linux-x64'))).toBe(false);
        } else expect(code).not.toContain('sharp');
        for (const m of modules) {
          expect(
            m.code.startsWith("import { createRequire } from 'module'; const require = createRequire("),
            `${fn} ${m.file}`,
          ).toBe(true);
        }
        // Minified, no source map, the SDK bundled in (not left to the runtime's copy), and
        // google-auth-library only where the Vertex AI provider is configured.
        expect(code).not.toContain('sourceMappingURL');
        expect(code).not.toMatch(/from\s*["']@aws-sdk\//);
        expect(code).not.toContain('GoogleAuth');
        // semver is the shim the bundling aliases it to (infra/shims/semver.ts), not the package.
        expect(code, fn).not.toContain('SEMVER_SPEC_VERSION');
        expect(index.length / index.split('\n').length).toBeGreaterThan(200);
        if (!withFont) continue;
        // The font is where the bundled code looks for it: its URL relative to the module that names it.
        const named = modules.find((m) => m.code.includes('DejaVuSans-Bold.ttf'));
        const [, relativeUrl] =
          named?.code.match(/new URL\("([^"]*DejaVuSans-Bold\.ttf)",import\.meta\.url\)/) ?? [];
        expect(relativeUrl, fn).toBeDefined();
        const fontPath = fileURLToPath(
          new URL(relativeUrl ?? '', pathToFileURL(join(dir, named?.file ?? ''))),
        );
        expect(readFileSync(fontPath).equals(sourceFont), fn).toBe(true);
        expect(existsSync(join(dir, 'assets', 'DejaVuSans-Bold.LICENSE.txt')), fn).toBe(true);
      }
      // With ffmpeg present (the layer), both start: the poller's watermarker finds its font.
      for (const fn of ['worker', 'poller'] as const)
        expect(coldStart(assetDir(fn)), fn).toEqual({ status: 0, stderr: '' });
      // The same start without the font fails, so the check above means something.
      const poller = assetDir('poller');
      rmSync(join(poller, 'assets'), { recursive: true });
      const broken = coldStart(poller);
      expect(broken.status).not.toBe(0);
      expect(broken.stderr).toContain('watermark font not found');

      // The site: a small index.mjs with the built pages beside it, served with the CSP.
      const siteKey = (only(t, 'AWS::Lambda::Function', siteFnId)[1].Properties.Code as { S3Key: string })
        .S3Key;
      const site = join(assembly.directory, `asset.${siteKey.replace(/\.zip$/, '')}`);
      expect(readdirSync(site).sort()).toEqual(['index.mjs', 'site-assets']);
      expect(readFileSync(join(site, 'index.mjs')).length).toBeLessThan(50_000);
      for (const file of [
        'playground/index.html',
        'playground/playground.js',
        'playground/playground.css',
        'docs/index.html',
        'docs/docs.js',
        'docs/swagger-ui/swagger-ui-bundle.js',
        'docs/swagger-ui/swagger-ui.css',
      ]) {
        expect(existsSync(join(site, 'site-assets', file)), file).toBe(true);
      }
      expect(serveFromBundle(site, '/docs')).toMatchObject({
        statusCode: 200,
        contentType: 'text/html; charset=utf-8',
        csp: expect.stringContaining("media-src 'self' https://videos.s3.us-east-1.amazonaws.com;"),
        body: expect.stringContaining('/docs/swagger-ui/swagger-ui-bundle.js'),
      });
      expect(serveFromBundle(site, '/docs/swagger-ui/swagger-ui-bundle.js')).toMatchObject({
        statusCode: 200,
      });
      expect(serveFromBundle(site, '/docs/..%2F..%2Findex.mjs')).toMatchObject({ statusCode: 404 });
    } finally {
      rmSync(assembly.directory, { recursive: true, force: true });
    }
  });
});
