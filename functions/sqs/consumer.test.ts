import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createLambdaContext } from '../../local/lambda-context';
import { currentTraceHeader } from '../adapters/observability/trace-header';
import type { Log } from '../core/ports';
import { sqsConsumer } from './consumer';

/** A logger whose children keep their own keys, as Powertools' do; every info line lands in `lines`. */
function keyedLog(lines: Record<string, unknown>[], keys: Record<string, unknown> = {}): Log {
  return {
    info: (message) => void lines.push({ message, ...keys }),
    warn: () => {},
    error: () => {},
    appendKeys: (more) => Object.assign(keys, more),
    createChild: () => keyedLog(lines, { ...keys }),
  };
}

const record = (taskId: string, trace?: string): SQSRecord => ({
  messageId: `m-${taskId}`,
  receiptHandle: 'r',
  body: JSON.stringify({ taskId }),
  attributes: {
    ApproximateReceiveCount: '1',
    SentTimestamp: '0',
    SenderId: 'local',
    ApproximateFirstReceiveTimestamp: '0',
    ...(trace && { AWSTraceHeader: trace }),
  },
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:poll',
  awsRegion: 'us-east-1',
});

describe('sqsConsumer', () => {
  it("continues each record's own trace: on its logger and for what it sends, though records run in parallel", async () => {
    const a = 'Root=1-6a1b2c3d-aaaaaaaaaaaaaaaaaaaaaaaa;Parent=53995c3f42cd8ad8;Sampled=1';
    const b = 'Root=1-6a1b2c3d-bbbbbbbbbbbbbbbbbbbbbbbb;Parent=53995c3f42cd8ad8;Sampled=1';
    const lines: Record<string, unknown>[] = [];
    const handler = sqsConsumer(
      z.object({ taskId: z.string() }),
      async ({ taskId }, log) => {
        // The first record waits longest: the second one's trace must not leak into it.
        await new Promise((r) => setTimeout(r, taskId === 't1' ? 30 : 1));
        log.info(currentTraceHeader() ?? 'none');
      },
      keyedLog(lines),
    );
    const event: SQSEvent = { Records: [record('t1', a), record('t2', b), record('t3')] };
    const context = createLambdaContext({ functionName: 'poller', timeoutMs: 10_000 });
    const result = await handler(event, context);
    expect(result.batchItemFailures).toEqual([]);
    // Each line: what the record would send (its message), and the keys its logger carries.
    const byTask = new Map(lines.map((line) => [line.taskId, line]));
    expect(byTask.get('t1')).toEqual({
      message: a,
      taskId: 't1',
      traceId: '1-6a1b2c3d-aaaaaaaaaaaaaaaaaaaaaaaa',
    });
    expect(byTask.get('t2')).toEqual({
      message: b,
      taskId: 't2',
      traceId: '1-6a1b2c3d-bbbbbbbbbbbbbbbbbbbbbbbb',
    });
    // A message sent without a trace begins one.
    const t3 = byTask.get('t3');
    expect(t3?.traceId).toMatch(/^1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    expect(t3?.message).toContain(`Root=${t3?.traceId};`);
  });
});
