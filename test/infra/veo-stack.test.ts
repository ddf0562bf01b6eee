import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  apiKeyTable,
  counterTable,
  numericAttributes,
  type TableLayout,
  taskTable,
} from '../../functions/adapters/dynamodb/tables';
import { configSchema } from '../../functions/config';
import { readStackSettings } from '../../infra/settings';
import { VeoStack } from '../../infra/veo-stack';

/** The context `cdk synth` uses (feature flags included), so the template here is the deployed one. */
const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

function synthApp(context: Record<string, unknown> = {}, bundle = false): { app: App; stack: VeoStack } {
  const app = new App({
    context: {
      ...cdkJson.context,
      ...context,
      // Bundling runs esbuild five times; only the bundling test below pays for it.
      ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
    },
  });
  const stack = new VeoStack(app, 'VeoServerless', { settings: readStackSettings(app.node) });
  return { app, stack };
}

function synth(context: Record<string, unknown> = {}): Template {
  return Template.fromStack(synthApp(context).stack);
}

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };

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

const fnIds = {
  api: 'FunctionsApi',
  upstreamCallback: 'FunctionsUpstreamCallback',
  worker: 'FunctionsWorker',
  poller: 'FunctionsPoller',
  notifier: 'FunctionsNotifier',
} as const;
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

const template = synth();
const queueId = (name: 'Generate' | 'Poll' | 'Notify') =>
  only(template, 'AWS::SQS::Queue', `Queues${name}`)[0];
const dlqId = (name: 'Generate' | 'Poll' | 'Notify') =>
  only(template, 'AWS::SQS::Queue', `Queues${name}Dlq`)[0];
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

  it('has no other routes, so unknown paths reach the api function', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Route', 2);
  });
});

describe('functions', () => {
  const functions = template.findResources('AWS::Lambda::Function') as Record<string, Resource>;

  it('are exactly the five entry points (no CDK helper functions)', () => {
    expect(Object.keys(functions).sort()).toEqual((Object.keys(fnIds) as Fn[]).map(fnId).sort());
    expect(Object.keys(functions)).toHaveLength(5);
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

  it.each([
    ['api', 10, 256],
    ['upstreamCallback', 10, 256],
    ['worker', 60, 256],
    ['poller', 300, 512],
    ['notifier', 60, 256],
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
    expect(new Set(used).size).toBe(5);
  });

  it('all get the same environment, which satisfies functions/config.ts', () => {
    const environments = Object.values(functions).map(
      (fn) => (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables,
    );
    const [first, ...rest] = environments;
    for (const env of rest) expect(env).toEqual(first);
    expect(first).not.toHaveProperty('NODE_OPTIONS');
    // References (table names, queue URLs) resolve at deploy time: stand in a URL, valid for both.
    const resolved = Object.fromEntries(
      Object.entries(first ?? {}).map(([k, v]) => [
        k,
        typeof v === 'string' ? v : 'https://resolved.invalid/x',
      ]),
    );
    const config = configSchema.parse(resolved);
    expect(config).toMatchObject({
      PROVIDER: 'simulator',
      ALLOW_HTTP_CALLBACKS: false,
      RETENTION_DAYS: 14,
      POLL_INTERVAL_SECONDS: 10,
    });
    expect(first).toMatchObject({
      TASKS_TABLE: { Ref: tableId('Tasks') },
      API_KEYS_TABLE: { Ref: tableId('ApiKeys') },
      COUNTERS_TABLE: { Ref: tableId('Counters') },
      GENERATE_QUEUE_URL: { Ref: queueId('Generate') },
      POLL_QUEUE_URL: { Ref: queueId('Poll') },
      NOTIFY_QUEUE_URL: { Ref: queueId('Notify') },
      VIDEO_BUCKET: { Ref: bucketId() },
    });
  });
});

describe('queues', () => {
  it('are three work queues, each redriving to its own dead-letter queue after 5 receives', () => {
    template.resourceCountIs('AWS::SQS::Queue', 6);
    const targets = (['Generate', 'Poll', 'Notify'] as const).map((name) => {
      template.hasResource('AWS::SQS::Queue', {
        Properties: Match.objectLike({
          RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId(name), 'Arn'] }, maxReceiveCount: 5 },
        }),
      });
      return dlqId(name);
    });
    expect(new Set(targets).size).toBe(3);
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

  it('are three, reporting partial batch failures in batches of 10', () => {
    expect(mappings).toHaveLength(3);
    for (const m of mappings) {
      expect(m.Properties).toMatchObject({
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: 10,
      });
    }
  });

  it.each([
    ['worker', 'Generate'],
    ['poller', 'Poll'],
    ['notifier', 'Notify'],
  ] as const)('%s consumes %s, whose visibility timeout is at least 6x its timeout', (fn, queue) => {
    const mapping = mappings.find(
      (m) => JSON.stringify(m.Properties.FunctionName) === JSON.stringify({ Ref: fnId(fn) }),
    );
    expect(mapping?.Properties.EventSourceArn).toEqual({ 'Fn::GetAtt': [queueId(queue), 'Arn'] });
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
    template.resourceCountIs('AWS::S3::Bucket', 1);
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
  it('flows into the functions environment', () => {
    const t = synth({
      allowHttpCallbacks: 'true',
      pollIntervalSeconds: 30,
      providerBaseUrl: 'https://sim.example.com',
      veo3ModelId: 'veo-3.1-generate-001',
      veo3FastModelId: 'veo-3.1-fast-generate-001',
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          ALLOW_HTTP_CALLBACKS: 'true',
          POLL_INTERVAL_SECONDS: '30',
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
  ])('refuses %s=%s at synth time', (key, value) => {
    expect(() => synth({ [key]: value })).toThrow(new RegExp(`Invalid CDK context "${key}"`));
  });
});

describe('least privilege', () => {
  it('uses no wildcard resources', () => {
    for (const fn of Object.keys(fnIds) as Fn[]) {
      for (const s of statementsOf(template, fn)) expect(asList(s.Resource), fn).not.toContain('*');
    }
  });

  it('lets only the poller write videos, and only under videos/', () => {
    const bucket = bucketId();
    expect(allows(template, 'poller', 's3:PutObject', bucket, '/videos/*')).toBe(true);
    expect(allows(template, 'poller', 's3:AbortMultipartUpload', bucket, '/videos/*')).toBe(true);
    for (const fn of ['api', 'upstreamCallback', 'worker', 'notifier'] as const) {
      expect(allows(template, fn, 's3:PutObject', bucket), fn).toBe(false);
    }
    expect(allows(template, 'worker', 's3:GetObject', bucket)).toBe(false);
  });

  it('lets the presigning functions read videos', () => {
    expect(allows(template, 'api', 's3:GetObject', bucketId(), '/videos/*')).toBe(true);
    expect(allows(template, 'notifier', 's3:GetObject', bucketId(), '/videos/*')).toBe(true);
  });

  it('lets each function send only to the queues its steps feed', () => {
    const sends: Record<Fn, ('Generate' | 'Poll' | 'Notify')[]> = {
      api: ['Generate'],
      upstreamCallback: ['Poll'],
      worker: ['Poll', 'Notify'],
      poller: ['Poll', 'Notify'],
      notifier: [],
    };
    for (const [fn, allowed] of Object.entries(sends) as [Fn, ('Generate' | 'Poll' | 'Notify')[]][]) {
      for (const queue of ['Generate', 'Poll', 'Notify'] as const) {
        expect(allows(template, fn, 'sqs:SendMessage', queueId(queue)), `${fn} → ${queue}`).toBe(
          allowed.includes(queue),
        );
      }
    }
  });

  it('lets each consumer receive from its own queue only', () => {
    const consumes: Record<Fn, 'Generate' | 'Poll' | 'Notify' | undefined> = {
      api: undefined,
      upstreamCallback: undefined,
      worker: 'Generate',
      poller: 'Poll',
      notifier: 'Notify',
    };
    for (const [fn, own] of Object.entries(consumes) as [Fn, string | undefined][]) {
      for (const queue of ['Generate', 'Poll', 'Notify'] as const) {
        expect(allows(template, fn, 'sqs:ReceiveMessage', queueId(queue)), `${fn} ← ${queue}`).toBe(
          own === queue,
        );
      }
    }
  });

  it('lets only the worker, which gates upstream submits, use the counters', () => {
    const counters = tableId('Counters');
    for (const action of ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']) {
      expect(allows(template, 'worker', action, counters), action).toBe(true);
    }
    for (const fn of ['api', 'upstreamCallback', 'poller', 'notifier'] as const) {
      expect(allows(template, fn, 'dynamodb:GetItem', counters), fn).toBe(false);
      expect(allows(template, fn, 'dynamodb:PutItem', counters), fn).toBe(false);
    }
  });

  it('keeps the upstream callback read-only on tasks and away from API keys', () => {
    expect(allows(template, 'upstreamCallback', 'dynamodb:GetItem', tableId('Tasks'))).toBe(true);
    expect(allows(template, 'upstreamCallback', 'dynamodb:UpdateItem', tableId('Tasks'))).toBe(false);
    expect(allows(template, 'upstreamCallback', 'dynamodb:GetItem', tableId('ApiKeys'))).toBe(false);
    expect(allows(template, 'notifier', 'dynamodb:UpdateItem', tableId('ApiKeys'))).toBe(false);
  });
});

describe('alarms', () => {
  it('watch every dead-letter queue for a visible message', () => {
    for (const name of ['Generate', 'Poll', 'Notify'] as const) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId(name), 'QueueName'] } }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }
  });
});

describe('cdk synth with real bundling', () => {
  it('bundles every function with esbuild into one ESM file that provides require', {
    timeout: 120_000,
  }, () => {
    const { app, stack } = synthApp({}, true);
    const assembly = app.synth();
    try {
      const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function') as Record<
        string,
        Resource
      >;
      const assetDirs = Object.values(functions).map((fn) => {
        const key = (fn.Properties.Code as { S3Key: string }).S3Key;
        return join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`);
      });
      expect(new Set(assetDirs).size).toBe(5);
      for (const dir of assetDirs) {
        expect(existsSync(dir), dir).toBe(true);
        expect(readdirSync(dir)).toEqual(['index.mjs']);
        const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
        expect(
          code.startsWith("import { createRequire } from 'module'; const require = createRequire("),
        ).toBe(true);
        // Minified, no source map, the SDK bundled in (not left to the runtime's copy).
        expect(code).not.toContain('sourceMappingURL');
        expect(code).not.toMatch(/from\s*["']@aws-sdk\//);
        expect(code.length / code.split('\n').length).toBeGreaterThan(200);
      }
    } finally {
      rmSync(assembly.directory, { recursive: true, force: true });
    }
  });
});
