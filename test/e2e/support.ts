import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { expect } from 'vitest';
import type { TaskRecord } from '../../functions/core/task/record';
import type { RunningLocalStack } from '../../local/stack';
import { pngBytes } from '../../simulator/fixtures';

/** A kie.ai client of the local stack, as a user's code would call it over HTTP. */
export function apiClient(stack: RunningLocalStack) {
  async function call<T = unknown>(
    method: string,
    path: string,
    options: { body?: unknown; key?: string | null; headers?: Record<string, string> } = {},
  ) {
    const headers: Record<string, string> = { ...options.headers };
    const key = options.key === undefined ? stack.apiKey : options.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    }
    const response = await fetch(`${stack.url}${path}`, { method, headers, body });
    return {
      status: response.status,
      json: (await response.json()) as { code: number; msg: string; data: T },
    };
  }

  return {
    call,
    async credit(key?: string): Promise<number> {
      return (await call<number>('GET', '/api/v1/chat/credit', { key })).json.data;
    },
    /** Submits and returns the taskId, failing the test on anything but 200. */
    async generate(body: unknown): Promise<string> {
      const { status, json } = await call<{ taskId: string }>('POST', '/api/v1/veo/generate', { body });
      expect([status, json.msg]).toEqual([200, 'success']);
      return json.data.taskId;
    },
    async record(taskId: string): Promise<TaskRecord> {
      return (await call<TaskRecord>('GET', `/api/v1/veo/record-info?taskId=${taskId}`)).json.data;
    },
    /** Polls record-info until `done` holds, as a client would. */
    async waitForRecord(
      taskId: string,
      done: (data: TaskRecord) => boolean = (d) => d.successFlag !== 0,
      timeoutMs = 30_000,
    ): Promise<TaskRecord> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { json } = await call<TaskRecord>('GET', `/api/v1/veo/record-info?taskId=${taskId}`);
        if (json.data && done(json.data)) return json.data;
        if (Date.now() > deadline) throw new Error(`task ${taskId} did not finish: ${JSON.stringify(json)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
  };
}

/** Submits `prompt` and waits for the task's end: its id, its record and how long that took. */
export async function endedTask(stack: RunningLocalStack, prompt: string) {
  const client = apiClient(stack);
  const started = Date.now();
  const taskId = await client.generate({ prompt });
  const record = await client.waitForRecord(taskId, (d) => d.successFlag !== 0, 20_000);
  return { taskId, record, ms: Date.now() - started };
}

/**
 * A task whose upstream's push is lost on the way (the simulator drops it): it must still succeed, noticed by
 * the polls the sweeper starts once `pushCheckMs` (PUSH_CHECK_SECONDS) has passed, not before. Returns its id.
 */
export async function taskWithLostPush(
  stack: RunningLocalStack,
  prompt: string,
  pushCheckMs: number,
): Promise<string> {
  stack.simulator.pushes = 'drop';
  try {
    const { taskId, record, ms } = await endedTask(stack, prompt);
    expect(record.successFlag).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(pushCheckMs - 500);
    return taskId;
  } finally {
    stack.simulator.pushes = 'send';
  }
}

export async function download(url: string | undefined): Promise<Buffer> {
  const response = await fetch(url ?? 'missing-url');
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

/** Tasks in the table, read straight from DynamoDB Local: proves that refused requests wrote nothing. */
export async function taskCount(): Promise<number> {
  const dynamo = new DynamoDBClient({
    endpoint: process.env.DYNAMODB_ENDPOINT,
    region: process.env.AWS_REGION,
  });
  const out = await dynamo.send(new ScanCommand({ TableName: process.env.TASKS_TABLE, Select: 'COUNT' }));
  return out.Count ?? 0;
}

/** The same adapters the handlers use, pointed at the running emulators. */
export async function localDeps() {
  const { loadConfig } = await import('../../functions/config');
  const { apiDeps } = await import('../../functions/composition/api');
  return apiDeps(loadConfig(), 'test');
}

/** Serves real PNG images of the given sizes on loopback, e.g. `${url}/800x1000.png`. */
export async function startImageServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const server = createServer((req, res) => {
    const size = /^\/(\d+)x(\d+)\.png$/.exec(req.url ?? '');
    if (!size) return void res.writeHead(404).end();
    res
      .writeHead(200, { 'content-type': 'image/png' })
      .end(pngBytes(Number(size[1]), Number(size[2]), [40, 120, 200]));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Width and height from a PNG's IHDR chunk. */
export function pngSize(bytes: Buffer): { width: number; height: number } {
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}
