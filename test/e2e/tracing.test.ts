import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient } from './support';

/**
 * One trace per task across functions, on the local stack: the api begins it (from the gateway's
 * x-amzn-trace-id), every message carries it (AWSTraceHeader), and the worker, poller and notifier put
 * it on each log line of that task. The functions' JSON log lines are read off stdout as they are written.
 */
interface LogLine {
  service?: string;
  message?: string;
  taskId?: string;
  traceId?: string;
}
const lines: LogLine[] = [];
const write = process.stdout.write.bind(process.stdout) as (...args: unknown[]) => boolean;
process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // Not one of the functions' JSON lines.
    }
  }
  return write(chunk, ...rest);
}) as typeof process.stdout.write;

let stack: RunningLocalStack;
let client: ReturnType<typeof apiClient>;
const delivered = new Set<string>();
const receiver = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
  });
  req.on('end', () => {
    const taskId = /"taskId":"([^"]+)"/.exec(body)?.[1];
    if (taskId) delivered.add(taskId);
    res.writeHead(200).end();
  });
});
let receiverUrl = '';

beforeAll(async () => {
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  stack = await startLocalStack({
    port: 0,
    simulatorLatencyMs: 300,
    pollIntervalSeconds: 1,
    // Every function's INFO lines: "task created", "task submitted upstream", "task succeeded", "callback delivered".
    environment: { POWERTOOLS_LOG_LEVEL: 'INFO' },
  });
  client = apiClient(stack);
});

afterAll(async () => {
  await stack?.stop();
  receiver.close();
});

async function untilDelivered(taskIds: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!taskIds.every((id) => delivered.has(id))) {
    if (Date.now() > deadline) throw new Error(`callbacks not delivered for ${taskIds.join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // The notifier logs "callback delivered" after the receiver answers.
  await new Promise((r) => setTimeout(r, 500));
}

const linesOf = (taskId: string) => lines.filter((line) => line.taskId === taskId);

describe('tracing', () => {
  it("carries one trace id on a task's log lines in the api, worker, poller and notifier; concurrent tasks get their own", async () => {
    const [first, second] = await Promise.all([
      client.generate({ prompt: 'a lighthouse at dusk', callBackUrl: `${receiverUrl}/ok` }),
      client.generate({ prompt: 'a kite over dunes', callBackUrl: `${receiverUrl}/ok` }),
    ]);
    await untilDelivered([first, second]);

    const traceIds = [first, second].map((taskId) => {
      const own = linesOf(taskId);
      const byService = new Map(own.map((line) => [line.service, line]));
      expect([...byService.keys()].sort(), taskId).toEqual(
        expect.arrayContaining(['api', 'notifier', 'poller', 'worker']),
      );
      expect(byService.get('api')?.message).toBe('task created');
      expect(byService.get('notifier')?.message).toBe('callback delivered');
      const ids = new Set(own.map((line) => line.traceId));
      expect([...ids], taskId).toHaveLength(1);
      const [traceId] = ids;
      expect(traceId).toMatch(/^1-[0-9a-f]{8}-[0-9a-f]{24}$/);
      return traceId;
    });
    expect(traceIds[0]).not.toBe(traceIds[1]);
  });

  it('continues the trace a client sends in X-Amzn-Trace-Id', async () => {
    const root = '1-6a1b2c3d-0123456789abcdef01234567';
    const { json } = await client.call<{ taskId: string }>('POST', '/api/v1/veo/generate', {
      body: { prompt: 'a tram in the rain', callBackUrl: `${receiverUrl}/ok` },
      headers: { 'x-amzn-trace-id': `Root=${root};Parent=53995c3f42cd8ad8;Sampled=1` },
    });
    const taskId = json.data.taskId;
    await untilDelivered([taskId]);
    const own = linesOf(taskId);
    expect(new Set(own.map((line) => line.service))).toEqual(
      new Set(['api', 'worker', 'poller', 'notifier']),
    );
    expect(new Set(own.map((line) => line.traceId))).toEqual(new Set([root]));
  });
});
