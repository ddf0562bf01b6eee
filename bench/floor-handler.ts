import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { floorHandler } from './floor-work';

/**
 * The init floor: what every function of ours needs before any code of its own, bundled exactly like the
 * handlers (bench/bundle.ts): a DynamoDB document client and an SQS client, both traced, Powertools'
 * Logger, Metrics and Tracer (X-Ray), and zod with one schema. `init.floor.median` against the baseline
 * says how much of a function's init is these libraries rather than our code. The Tracer loads as in
 * functions/composition/observability.ts: only where tracing is on, so with it off this is the floor
 * without X-Ray.
 */
const tracing =
  Boolean(process.env.AWS_EXECUTION_ENV) && process.env.POWERTOOLS_TRACE_ENABLED?.toLowerCase() !== 'false';
const tracer: Tracer | undefined = tracing
  ? new (await import('@aws-lambda-powertools/tracer')).Tracer({ serviceName: 'floor' })
  : undefined;
const traced = <C>(client: C): C => (tracer ? tracer.captureAWSv3Client(client) : client);
const dynamo = DynamoDBDocumentClient.from(traced(new DynamoDBClient({})));
const sqs = traced(new SQSClient({}));
const log = new Logger({ serviceName: 'floor' });
const metrics = new Metrics({ namespace: 'floor' });

export const handler = floorHandler(dynamo, sqs, (taskId) => {
  log.info('sent', { taskId });
  metrics.addMetric('sent', 'Count', 1);
});
