import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TaskRecord } from '../../client/veo-client';
import { generateRequestSchema } from '../../functions/core/schema';
import { newTask, type Task, type TaskStatus } from '../../functions/core/task';
import { toRecord } from '../../functions/core/task/record';

/**
 * Test support for the client's unit tests: a tiny HTTP server on loopback that answers in kie's
 * envelope from a table of routes. It stands in for the API only to test the client's side of the wire;
 * the API itself is tested against the real local stack (test/e2e/client.test.ts).
 */
export interface SeenRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export type FakeAnswer =
  | { status: number; json: unknown }
  | { status: number; text: string }
  | { status: number; bytes: Buffer };

export type FakeRoute = (request: SeenRequest) => FakeAnswer | Promise<FakeAnswer>;

export interface FakeApi {
  url: string;
  requests: SeenRequest[];
  stop(): Promise<void>;
}

export const ok = (data: unknown): FakeAnswer => ({ status: 200, json: { code: 200, msg: 'success', data } });
export const fail = (code: number, msg: string, data: unknown = null): FakeAnswer => ({
  status: code,
  json: { code, msg, data },
});

/** Routes are keyed `METHOD /path`; anything else is a 404 envelope. */
export async function startFakeApi(routes: Record<string, FakeRoute>): Promise<FakeApi> {
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const raw = Buffer.concat(chunks).toString('utf8');
      const seen: SeenRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: raw ? JSON.parse(raw) : undefined,
      };
      requests.push(seen);
      const route = routes[`${seen.method} ${seen.path}`];
      const answer = route
        ? await route(seen)
        : fail(404, `Not found: no route for ${seen.method} ${seen.path}`);
      if ('json' in answer) {
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.json));
      } else if ('text' in answer) {
        res.writeHead(answer.status, { 'content-type': 'text/html' }).end(answer.text);
      } else {
        res.writeHead(answer.status, { 'content-type': 'video/mp4' }).end(answer.bytes);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A record-info `data` built by the API's own record builder, so the fakes keep the real shape.
 * `renditions` lists 1080p/4K entries as record-info shows them.
 */
export function fakeRecord(
  status: TaskStatus,
  options: {
    taskId?: string;
    resultUrls?: string[];
    renditions?: TaskRecord['renditions'];
    task?: Partial<Task>;
  } = {},
): TaskRecord {
  const request = generateRequestSchema({ allowLoopback: true, allowHttp: true }).parse({ prompt: 'a dog' });
  const task: Task = {
    ...newTask({
      request,
      paramJson: JSON.stringify({ prompt: 'a dog' }),
      keyHash: 'hash',
      credits: 60,
      provider: 'simulator',
      now: 1_750_000_000_000,
      retentionDays: 14,
      budgetSeconds: 900,
    }),
    status,
    ...options.task,
  };
  if (options.taskId) task.taskId = options.taskId;
  const resultUrls = status === 'succeeded' ? (options.resultUrls ?? ['http://127.0.0.1/v.mp4']) : [];
  return toRecord(task, { resultUrls, originUrls: resultUrls, renditions: options.renditions ?? [] });
}
