import { describe, expect, it } from 'vitest';
import { billedUnits, costFigures, listPrices } from './cost';
import type { Results } from './results';

const KB = 1024;

/** A body of `size` bytes, as a task queue's JSON message. */
function taskMessage(size: number): string {
  const head = '{"taskId":"t1","pad":"';
  return `${head}${'x'.repeat(size - head.length - 2)}"}`;
}

/** The local events stand-in's body: the envelope an EventBridge rule's SQS target receives. */
function envelope(detailBytes = 500): string {
  return JSON.stringify({
    version: '0',
    id: 'e1',
    'detail-type': 'Veo Task Succeeded',
    source: 'veo-serverless',
    account: '000000000000',
    time: '2026-11-30T00:00:00.000Z',
    region: 'us-east-1',
    resources: [],
    detail: { taskId: 't1', pad: 'x'.repeat(detailBytes) },
  });
}

describe('billedUnits: SQS requests as deployed', () => {
  it('a small message is one send, one receive and one delete', () => {
    expect(billedUnits('SQS', 'SendMessage', { MessageBody: taskMessage(2 * KB) })).toEqual({
      'sqs-requests': 3,
    });
  });

  it('a message over 64 KB is billed by the chunk on its send and its receive', () => {
    // 70 KB: 2 chunks sent, 2 received, 1 delete.
    expect(billedUnits('SQS', 'SendMessage', { MessageBody: taskMessage(70 * KB) })).toEqual({
      'sqs-requests': 5,
    });
  });

  it("counts a message's attributes in its payload", () => {
    const body = taskMessage(64 * KB - 10);
    const attributes = { trace: { DataType: 'String', StringValue: 'Root=1-abc' } };
    expect(billedUnits('SQS', 'SendMessage', { MessageBody: body })).toEqual({ 'sqs-requests': 3 });
    expect(billedUnits('SQS', 'SendMessage', { MessageBody: body, MessageAttributes: attributes })).toEqual({
      'sqs-requests': 5,
    });
    // A message system attribute (the X-Ray trace header) does not count towards the message's size.
    expect(
      billedUnits('SQS', 'SendMessage', { MessageBody: body, MessageSystemAttributes: attributes }),
    ).toEqual({
      'sqs-requests': 3,
    });
  });

  it("prices a batch's send as one request per 64 KB of all its messages", () => {
    const small = Array.from({ length: 10 }, (_, i) => ({ Id: String(i), MessageBody: taskMessage(KB) }));
    // One request for the ten together, then a receive and a delete each.
    expect(billedUnits('SQS', 'SendMessageBatch', { Entries: small })).toEqual({ 'sqs-requests': 21 });
    const large = Array.from({ length: 3 }, (_, i) => ({
      Id: String(i),
      MessageBody: taskMessage(30 * KB),
    }));
    // 90 KB together: 2 requests to send.
    expect(billedUnits('SQS', 'SendMessageBatch', { Entries: large })).toEqual({ 'sqs-requests': 8 });
  });
});

describe('billedUnits: events as deployed (PutEvents)', () => {
  it("prices the local stand-in's event message as one EventBridge event, not SQS requests", () => {
    expect(billedUnits('SQS', 'SendMessage', { MessageBody: envelope() })).toEqual({ events: 1 });
  });

  it("prices the stand-in's batch per event, not per request", () => {
    const entries = [0, 1, 2, 3].map((i) => ({ Id: String(i), MessageBody: envelope() }));
    expect(billedUnits('SQS', 'SendMessageBatch', { Entries: entries })).toEqual({ events: 4 });
  });

  it('bills an event over 64 KB as one event per chunk of its entry', () => {
    expect(billedUnits('SQS', 'SendMessage', { MessageBody: envelope(70 * KB) })).toEqual({ events: 2 });
  });

  it('prices a real PutEvents per entry', () => {
    const entry = { Source: 'veo-serverless', DetailType: 'Veo Task Queued', Detail: '{}', Time: new Date() };
    expect(billedUnits('EventBridge', 'PutEvents', { Entries: [entry, entry] })).toEqual({ events: 2 });
  });

  it('leaves a task message that merely mentions detail-type in its prompt to SQS', () => {
    const body = JSON.stringify({ taskId: 't1', prompt: 'a "detail-type" of sunset' });
    expect(billedUnits('SQS', 'SendMessage', { MessageBody: body })).toEqual({ 'sqs-requests': 3 });
  });

  it('leaves calls priced from their counts alone', () => {
    expect(billedUnits('DynamoDB', 'PutItem', { TableName: 'tasks' })).toEqual({});
    expect(billedUnits('SQS', 'ReceiveMessage', {})).toEqual({});
  });
});

describe('costFigures', () => {
  const calls = (billed: Record<string, number>): Results => ({
    'calls.kie.total': { value: 12, unit: 'calls/task' },
    ...Object.fromEntries(
      Object.entries(billed).map(([line, value]) => [`calls.kie.billed.${line}`, { value, unit: 'x' }]),
    ),
  });

  it('prices SQS requests and EventBridge events at their own list prices', () => {
    const out = costFigures(calls({ 'sqs-requests': 15, events: 4 }), ['kie']);
    expect(out['cost.kie.sqs']?.value).toBeCloseTo(15 * listPrices.sqsRequest * 1e6, 6);
    expect(out['cost.kie.eventbridge']?.value).toBeCloseTo(4 * listPrices.eventBridgeEvent * 1e6, 6);
    expect(listPrices.eventBridgeEvent).toBe(1 / 1e6);
    expect(out['cost.per-task']?.unit).toBe('µUSD (kie)');
  });

  it('refuses calls figures without the billed units rather than pricing them at 0', () => {
    expect(() => costFigures(calls({ 'sqs-requests': 15 }), ['kie'])).toThrow(/billed\.events/);
  });
});
