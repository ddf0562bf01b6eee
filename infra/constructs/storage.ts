import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AttributeType, Billing, ProjectionType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import {
  apiKeyTable,
  counterTable,
  numericAttributes,
  type TableLayout,
  taskTable,
} from '../../functions/adapters/dynamodb/tables';

export interface StorageProps {
  /** Days a video stays in the bucket (and a task in its table, via the TTL the functions set). */
  retentionDays: number;
}

/**
 * The stateful part: the tasks, API-key and counter tables and the video bucket. Everything here is
 * kept when the stack is deleted; losing it loses customers' keys, credits and videos.
 */
export class Storage extends Construct {
  readonly tasks: TableV2;
  readonly apiKeys: TableV2;
  /** Rate counters shared by every function instance (the upstream submit quota). */
  readonly counters: TableV2;
  readonly videos: Bucket;
  /** S3 server access logs of the video bucket: who fetched or wrote which video, for audits. */
  readonly accessLogs: Bucket;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    this.tasks = tableFromLayout(this, 'Tasks', taskTable);
    this.apiKeys = tableFromLayout(this, 'ApiKeys', apiKeyTable);
    this.counters = tableFromLayout(this, 'Counters', counterTable);

    this.accessLogs = new Bucket(this, 'AccessLogs', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      // Server access log delivery supports SSE-S3 only, and needs bucket-owner-enforced ownership.
      encryption: BucketEncryption.S3_MANAGED,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
    });
    // cdk-nag: logging the log bucket into itself would log its own log deliveries, without end.
    Validations.of(this.accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log bucket; logging it would log its own log deliveries',
    });

    this.videos = new Bucket(this, 'Videos', {
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'videos/',
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: false,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'expire-videos', prefix: 'videos/', expiration: Duration.days(props.retentionDays) },
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
