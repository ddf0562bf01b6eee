import { publishedUsdPerSecond } from '../functions/core/capabilities';
import { type FunctionName, functions } from '../functions/manifest';
import { type Figure, figure, type Results } from './results';

/**
 * The AWS cost of one task at list prices (us-east-1, November 2026, no free tier), from what the calls
 * group measured for it: the AWS calls by operation, the items of each transaction, each function's
 * invocations and milliseconds. Set beside the cheapest Veo task we serve (Lite, 4 s, 720p, Google's
 * published price): the goal is ≤ 0.1 % of it (issue 17).
 */
export const listPrices = {
  /** Lambda on arm64 (infra/constructs/veo-function.ts): per GB-second and per request. */
  lambdaGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  /** HTTP API, per request (first 300 million a month). */
  apiGatewayRequest: 1 / 1e6,
  /**
   * SQS standard, per request; each 64 KB chunk of a request's payload is billed as one request (a
   * SendMessageBatch of up to 10 messages under 64 KB in all is one).
   */
  sqsRequest: 0.4 / 1e6,
  /** EventBridge custom events (PutEvents), per event; each 64 KB chunk of an entry is billed as one event. */
  eventBridgeEvent: 1 / 1e6,
  /** DynamoDB on-demand, per write and read request unit. */
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  /** S3 Standard: PUT and GET per request, storage per GB-month. */
  s3Put: 0.005 / 1000,
  s3Get: 0.0004 / 1000,
  s3GbMonth: 0.023,
  /** Data transfer out to the internet (first 10 TB a month), per GB. */
  egressGb: 0.09,
} as const;

/**
 * A task item's size in KB, rounded up to DynamoDB's 1 KB write unit: a task with its prompt, request
 * and results is 1–3 KB; 3 is the generous end. Reads are strongly consistent (4 KB units: one each).
 */
const TASK_ITEM_KB = 3;
/** A 4 s 720p Veo video at ~8 Mbit/s: the stored bytes for the retention. */
const VIDEO_MB = 4;
/** S3 keeps it for the retention (config RETENTION_DAYS default). */
const RETENTION_DAYS = 14;
/** The cheapest Veo task we serve: Lite, 4 s, 720p. */
const CHEAPEST_VEO_USD = 4 * (publishedUsdPerSecond.veo3_lite['720p'] ?? Number.NaN);

/** `cost.<provider>.*` per provider and `cost.per-task`, the dearest of them, from `calls.<provider>.*`. */
export function costFigures(calls: Results, providers: readonly string[]): Results {
  const out: Results = {};
  let dearest: { provider: string; usd: number } | undefined;
  for (const provider of providers) {
    const parts = taskCost(calls, `calls.${provider}`);
    if (!parts) continue;
    const usd = Object.values(parts).reduce((a, b) => a + b, 0);
    for (const [part, value] of Object.entries(parts)) out[`cost.${provider}.${part}`] = micro(value);
    out[`cost.${provider}.per-task`] = micro(usd);
    if (!dearest || usd > dearest.usd) dearest = { provider, usd };
  }
  if (dearest) {
    const microUsd = dearest.usd * 1e6;
    out['cost.per-task'] = {
      value: round(microUsd),
      unit: `µUSD (${dearest.provider})`,
      baseline: round(CHEAPEST_VEO_USD * 1e6),
      ratio: Number((dearest.usd / CHEAPEST_VEO_USD).toPrecision(3)),
      goal: '≤ 0.001× (0.1 %) of the cheapest Veo task (Lite, 4 s, 720p)',
    };
  }
  // Not in the list, shown apart: the client's download leaves AWS (CloudFront's free tier or a
  // consumer inside AWS can make it 0).
  out['cost.egress-per-download'] = micro((VIDEO_MB / 1024) * listPrices.egressGb);
  return out;
}

function taskCost(calls: Results, prefix: string): Record<string, number> | undefined {
  const n = (key: string) => calls[`${prefix}.${key}`]?.value ?? 0;
  if (calls[`${prefix}.total`] === undefined) return undefined;
  let gbSeconds = 0;
  let invocations = 0;
  for (const name of Object.keys(functions) as FunctionName[]) {
    const count = n(`lambda.${name}.invocations`);
    invocations += count;
    // Billed per invocation, rounded up to the millisecond.
    gbSeconds += (functions[name].memoryMb / 1024) * (Math.ceil(n(`lambda.${name}.ms`)) / 1000);
  }
  const httpRequests = n('lambda.api.invocations') + n('lambda.upstreamCallback.invocations');
  // As deployed (billedUnits): the task queues' requests, and the events the local stand-in sent to its
  // queue, which a deployment puts on EventBridge.
  for (const line of billingLines)
    if (calls[`${prefix}.billed.${line}`] === undefined)
      throw new Error(`${prefix}.billed.${line} is missing: the calls group no longer counts it`);
  const writeUnits =
    TASK_ITEM_KB *
    (n('DynamoDB.PutItem') +
      n('DynamoDB.UpdateItem') +
      n('DynamoDB.DeleteItem') +
      2 * n('DynamoDB.TransactWriteItems.items'));
  const readUnits =
    n('DynamoDB.GetItem') +
    n('DynamoDB.Query') +
    n('DynamoDB.BatchGetItem.items') +
    2 * n('DynamoDB.TransactGetItems.items');
  const retentionMonths = RETENTION_DAYS / 30.4;
  return {
    lambda: gbSeconds * listPrices.lambdaGbSecond + invocations * listPrices.lambdaRequest,
    'api-gateway': httpRequests * listPrices.apiGatewayRequest,
    sqs: n('billed.sqs-requests') * listPrices.sqsRequest,
    eventbridge: n('billed.events') * listPrices.eventBridgeEvent,
    dynamodb: writeUnits * listPrices.dynamoWriteUnit + readUnits * listPrices.dynamoReadUnit,
    // The client downloads its video once (a presigned GET).
    s3:
      n('S3.PutObject') * listPrices.s3Put +
      listPrices.s3Get +
      (VIDEO_MB / 1024) * retentionMonths * listPrices.s3GbMonth,
  };
}

/** What the calls group adds up per task for the bill: `calls.<provider>.billed.<line>`. */
export const billingLines = ['sqs-requests', 'events'] as const;
export type BillingLine = (typeof billingLines)[number];

const CHUNK = 64 * 1024;

/**
 * What one AWS call the functions made costs as deployed, in the units its service bills. SQS bills each
 * 64 KB chunk of a request's payload (a batch's messages together) as one request; every message sent is
 * later received (again by the 64 KB chunk) and deleted once by Lambda's event source, whose idle long
 * polls are the deployment's, not a task's. The local stand-in for EventBridge sends each event's envelope
 * to an SQS queue (SendMessage, or SendMessageBatch for several): deployed that is one PutEvents, billed per
 * event by the 64 KB chunk of its entry and not per request; its delivery to the account's own targets
 * is not charged. Other calls are priced from their counts (taskCost).
 */
export function billedUnits(
  service: string,
  operation: string,
  input: unknown,
): Partial<Record<BillingLine, number>> {
  if (service === 'EventBridge' && operation === 'PutEvents') {
    const entries = (input as { Entries?: PutEventsEntry[] } | undefined)?.Entries ?? [];
    return { events: sum(entries.map((e) => chunks(entrySize(e)))) };
  }
  if (service !== 'SQS' || (operation !== 'SendMessage' && operation !== 'SendMessageBatch')) return {};
  const i = (input ?? {}) as SqsMessage & { Entries?: SqsMessage[] };
  const messages = operation === 'SendMessage' ? [i] : (i.Entries ?? []);
  const envelopes = messages.map((m) => envelopeOf(m.MessageBody));
  if (envelopes.every((e) => e !== undefined)) {
    return {
      events: sum(
        envelopes.map((e) =>
          chunks(
            entrySize({ Source: e.source, DetailType: e['detail-type'], Detail: JSON.stringify(e.detail) }),
          ),
        ),
      ),
    };
  }
  const sizes = messages.map(messageSize);
  // The send (its messages' payload together), then each message's receive and delete.
  return { 'sqs-requests': chunks(sum(sizes)) + sum(sizes.map((size) => chunks(size) + 1)) };
}

interface PutEventsEntry {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  Resources?: string[];
  Time?: unknown;
}

interface SqsMessage {
  MessageBody?: string;
  MessageAttributes?: Record<string, { DataType?: string; StringValue?: string }>;
}

/** An entry's size as EventBridge counts it: Time 14 bytes, Source, DetailType, Detail and Resources in UTF-8. */
function entrySize(entry: PutEventsEntry): number {
  return (
    14 +
    bytes(entry.Source) +
    bytes(entry.DetailType) +
    bytes(entry.Detail) +
    sum((entry.Resources ?? []).map(bytes))
  );
}

/** A message's payload: its body and its message attributes (system attributes, the trace header, are not). */
function messageSize(message: SqsMessage): number {
  const attributes = Object.entries(message.MessageAttributes ?? {});
  return (
    bytes(message.MessageBody) +
    sum(attributes.map(([name, a]) => bytes(name) + bytes(a.DataType) + bytes(a.StringValue)))
  );
}

/** The EventBridge envelope a body carries (the local events stand-in's), or undefined for a task message. */
function envelopeOf(
  body: string | undefined,
): { source: string; 'detail-type': string; detail: unknown } | undefined {
  if (body === undefined || !body.includes('"detail-type"')) return undefined;
  const parsed = JSON.parse(body) as { source?: unknown; 'detail-type'?: unknown; detail?: unknown };
  if (typeof parsed.source !== 'string' || typeof parsed['detail-type'] !== 'string') return undefined;
  return { source: parsed.source, 'detail-type': parsed['detail-type'], detail: parsed.detail };
}

function chunks(size: number): number {
  return Math.max(1, Math.ceil(size / CHUNK));
}

function bytes(text: string | undefined): number {
  return text === undefined ? 0 : Buffer.byteLength(text);
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function micro(usd: number): Figure {
  return figure(usd * 1e6, 'µUSD');
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
