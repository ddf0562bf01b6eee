import { Duration, FeatureFlags, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AttributeType, Billing, type ITableV2, ProjectionType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY } from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';
import { numericAttributes, type TableLayout } from '../../functions/adapters/dynamodb/tables';
import { type TableName, tables, videoBucket } from '../../functions/manifest';

export interface StorageProps {
  /** Days a video stays in the bucket (and a task in its table, via the TTL the functions set). */
  retentionDays: number;
  /**
   * An existing bucket for the videos. Its lifecycle is then its owner's: expire `videos/` after
   * `retentionDays` (and abort incomplete multipart uploads) there, since an imported bucket's rules
   * cannot be set from here.
   */
  videoBucket?: IBucket;
  /** Existing tables, each with the key layout of functions/adapters/dynamodb/tables.ts (and its TTL). */
  tables?: { [T in TableName]?: ITableV2 };
}

/**
 * The stateful part: the tasks, API-key and counter tables and the video bucket. Everything created here
 * is kept when the stack is deleted; losing it loses customers' keys, credits and videos.
 */
export class Storage extends Construct {
  readonly tables: Record<TableName, ITableV2>;
  readonly videos: IBucket;
  /** S3 server access logs of the video bucket (only for a bucket created here). */
  readonly accessLogs?: Bucket;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    // Construct ids from the manifest's names: Tasks, ApiKeys, Counters.
    this.tables = Object.fromEntries(
      (Object.entries(tables) as [TableName, (typeof tables)[TableName]][]).map(([name, { layout }]) => [
        name,
        props.tables?.[name] ?? tableFromLayout(this, name[0]?.toUpperCase() + name.slice(1), layout),
      ]),
    ) as Record<TableName, ITableV2>;

    if (props.videoBucket) {
      this.videos = props.videoBucket;
      return;
    }
    const accessLogs = new Bucket(this, 'AccessLogs', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      // Server access log delivery supports SSE-S3 only. It is allowed by a bucket policy (with
      // bucket-owner-enforced ownership) where the app has the feature flag, as this project's cdk.json
      // does; an app without it gets CDK's older ACL delivery, which needs object-writer ownership.
      encryption: BucketEncryption.S3_MANAGED,
      objectOwnership: FeatureFlags.of(this).isEnabled(S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY)
        ? ObjectOwnership.BUCKET_OWNER_ENFORCED
        : ObjectOwnership.OBJECT_WRITER,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
    });
    // cdk-nag: logging the log bucket into itself would log its own log deliveries, without end.
    Validations.of(accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log bucket; logging it would log its own log deliveries',
    });
    this.accessLogs = accessLogs;

    this.videos = new Bucket(this, 'Videos', {
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: videoBucket.prefix,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: false,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'expire-videos', prefix: videoBucket.prefix, expiration: Duration.days(props.retentionDays) },
        // The poller streams videos in with multipart uploads; a crash mid-upload leaves parts behind.
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
  }
}

/** Builds a table from the layout the functions and the local runtime share, so they cannot drift. */
function tableFromLayout(scope: Construct, id: string, layout: TableLayout): TableV2 {
  return new TableV2(scope, id, {
    partitionKey: attribute(layout.partitionKey),
    sortKey: layout.sortKey === undefined ? undefined : attribute(layout.sortKey),
    timeToLiveAttribute: layout.ttlAttribute,
    globalSecondaryIndexes: layout.indexes.map((index) => ({
      indexName: index.name,
      partitionKey: attribute(index.partitionKey),
      sortKey: attribute(index.sortKey),
      projectionType: ProjectionType.ALL,
    })),
    billing: Billing.onDemand(),
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    removalPolicy: RemovalPolicy.RETAIN,
  });
}

function attribute(name: string) {
  return { name, type: numericAttributes.has(name) ? AttributeType.NUMBER : AttributeType.STRING };
}
