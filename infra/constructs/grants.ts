import { Stack, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { type QueueName, type TableName, type Uses, videoBucket } from '../../functions/manifest';

/** The resources a manifest entry's `uses` names, as this deployment has them. */
export interface GrantTargets {
  tables: Record<TableName, ITableV2>;
  queues: Record<QueueName, IQueue>;
  deadLetterQueues: Record<QueueName, IQueue>;
  videos: IBucket;
  /** Absent for the simulator, which needs no credentials. */
  providerSecret?: ISecret;
  /** The pool's upstreams' own secrets (context `upstreams`), read by whoever reads the provider secret. */
  upstreamSecrets?: ISecret[];
  /** Amazon Translate is on (context `translation`, default amazon). */
  translate: boolean;
  /** Where task events go (context `eventBusName`); absent when events are off. */
  eventBus?: IEventBus;
}

/** S3 actions per access level of `Uses.videos`; multipart uploads are authorized as s3:PutObject. */
const videoActions = { name: [], read: ['s3:GetObject'], put: ['s3:PutObject', 's3:AbortMultipartUpload'] };

/**
 * The one place a manifest entry becomes IAM: exactly the actions it lists, on exactly the resources it
 * names. Each wildcard written here is acknowledged to cdk-nag where it is written, with its reason.
 */
export function grantUses(fn: IFunction & Construct, uses: Uses, targets: GrantTargets): void {
  const allow = (actions: string[], resources: string[], wildcardReason?: string) => {
    fn.addToRolePolicy(new PolicyStatement({ effect: Effect.ALLOW, actions, resources }));
    for (const resource of resources.filter((r) => cfnText(fn, r).includes('*'))) {
      Validations.of(fn).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${cfnText(fn, resource)}]`,
        reason: wildcardReason ?? 'scoped as narrowly as IAM allows',
      });
    }
  };

  for (const name of Object.keys(uses.tables ?? {}) as TableName[]) {
    const access = uses.tables?.[name];
    if (!access) continue;
    const { tableArn } = targets.tables[name];
    const { actions, queries = [] } = access;
    if (actions.length > 0)
      allow(
        [...new Set(actions)].map((a) => `dynamodb:${a}`),
        [tableArn],
      );
    // Queries only on the indexes named: never the table itself, never index/*.
    if (queries.length > 0)
      allow(
        ['dynamodb:Query'],
        queries.map((index) => `${tableArn}/index/${index}`),
      );
  }

  for (const queue of new Set(uses.sends ?? [])) targets.queues[queue].grantSendMessages(fn);
  for (const queue of new Set(uses.drains ?? [])) targets.deadLetterQueues[queue].grantConsumeMessages(fn);

  const videoLevels = [...new Set(uses.videos ?? [])];
  const s3Actions = videoLevels.flatMap((level) => videoActions[level]);
  if (s3Actions.length > 0) {
    allow(
      s3Actions,
      [targets.videos.arnForObjects(`${videoBucket.prefix}*`)],
      `Object keys are task ids, unknown in advance; ${videoBucket.prefix} is the narrowest fixed scope`,
    );
  }

  if (uses.providerSecret && targets.providerSecret) targets.providerSecret.grantRead(fn);
  if (uses.providerSecret) for (const secret of targets.upstreamSecrets ?? []) secret.grantRead(fn);

  if (uses.translate && targets.translate) {
    // Source language "auto" makes Translate call Comprehend as the caller. "*" is unavoidable:
    // TranslateText names a resource only with a custom terminology or parallel data (we use neither),
    // and DetectDominantLanguage has no resource type at all (IAM Service Authorization Reference).
    allow(
      ['translate:TranslateText', 'comprehend:DetectDominantLanguage'],
      ['*'],
      'translate:TranslateText without terminology and comprehend:DetectDominantLanguage have no resource type',
    );
  }

  if (uses.events && targets.eventBus) targets.eventBus.grantPutEventsTo(fn);

  if (uses.taskTokens) {
    // A task token names the execution it answers; IAM has no resource type for SendTask* to scope it to.
    allow(
      ['states:SendTaskSuccess', 'states:SendTaskFailure'],
      ['*'],
      'states:SendTaskSuccess and SendTaskFailure have no resource type: the task token names the execution',
    );
  }
}

/** A resource as cdk-nag prints it in a finding: `<LogicalId.Arn>/videos/*`, `*`, or the literal ARN. */
function cfnText(scope: Construct, value: string): string {
  const visit = (node: unknown): string => {
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
    if (node === null || typeof node !== 'object') return JSON.stringify(node);
    const object = node as Record<string, unknown>;
    if (Array.isArray(object['Fn::Join'])) {
      const [delimiter, items] = object['Fn::Join'] as [string, unknown[]];
      return items.map(visit).join(delimiter);
    }
    if (object['Fn::Sub'] !== undefined) return visit(object['Fn::Sub']);
    if (Array.isArray(object['Fn::GetAtt'])) {
      const [resource, attribute] = object['Fn::GetAtt'] as [unknown, unknown];
      return `<${visit(resource)}.${visit(attribute)}>`;
    }
    if (object.Ref !== undefined) return `<${visit(object.Ref)}>`;
    return JSON.stringify(node);
  };
  return visit(Stack.of(scope).resolve(value));
}
