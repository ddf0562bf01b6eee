import { randomUUID } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

/**
 * A stand-in for Veo that speaks the Gemini API's long-running-operation wire format:
 *   POST /v1beta/models/{model}:predictLongRunning  → { name: "models/{model}/operations/{id}" }
 *   GET  /v1beta/models/{model}/operations/{id}     → { name, done, response.generateVideoResponse... }
 *   GET  /v1beta/files/{id}:download?alt=media      → a small real MP4
 * Prompts containing "[reject]" end like a content-filtered generation, "[fail]" like an upstream error.
 */
export interface SimulatorOptions {
  port?: number;
  host?: string;
  /** How long a generation takes, in milliseconds. */
  latencyMs?: number;
}

export interface Simulator {
  url: string;
  stop(): Promise<void>;
  /** Counts of calls received, for tests and the benchmark. */
  stats: { submits: number; polls: number; downloads: number };
}

interface Operation {
  id: string;
  model: string;
  prompt: string;
  aspectRatio: string;
  doneAt: number;
}

const assets = {
  '16:9': fileURLToPath(new URL('./assets/sample-16x9.mp4', import.meta.url)),
  '9:16': fileURLToPath(new URL('./assets/sample-9x16.mp4', import.meta.url)),
};

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const latencyMs = options.latencyMs ?? 3000;
  const operations = new Map<string, Operation>();
  const stats = { submits: 0, polls: 0, downloads: 0 };
  let baseUrl = '';

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      send(res, 500, { error: { code: 500, message: String(error), status: 'INTERNAL' } });
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const submit = /^\/v1beta\/models\/([^/:]+):predictLongRunning$/.exec(url.pathname);
    if (req.method === 'POST' && submit?.[1]) {
      stats.submits++;
      const body = JSON.parse((await readBody(req)) || '{}') as {
        instances?: { prompt?: unknown }[];
        parameters?: { aspectRatio?: unknown };
      };
      const prompt = body.instances?.[0]?.prompt;
      if (typeof prompt !== 'string' || prompt.length === 0) {
        return send(res, 400, {
          error: { code: 400, message: 'instances[0].prompt is required', status: 'INVALID_ARGUMENT' },
        });
      }
      const aspectRatio = body.parameters?.aspectRatio === '9:16' ? '9:16' : '16:9';
      const op: Operation = {
        id: randomUUID(),
        model: submit[1],
        prompt,
        aspectRatio,
        doneAt: Date.now() + latencyMs,
      };
      operations.set(op.id, op);
      return send(res, 200, { name: `models/${op.model}/operations/${op.id}` });
    }

    const poll = /^\/v1beta\/models\/([^/]+)\/operations\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && poll?.[2]) {
      stats.polls++;
      const op = operations.get(poll[2]);
      if (!op)
        return send(res, 404, { error: { code: 404, message: 'Operation not found', status: 'NOT_FOUND' } });
      const name = `models/${op.model}/operations/${op.id}`;
      if (Date.now() < op.doneAt) return send(res, 200, { name });
      return send(res, 200, finishedOperation(name, op, baseUrl));
    }

    const download = /^\/v1beta\/files\/([^/:]+):download$/.exec(url.pathname);
    if (req.method === 'GET' && download?.[1]) {
      const op = operations.get(download[1]);
      if (!op)
        return send(res, 404, { error: { code: 404, message: 'File not found', status: 'NOT_FOUND' } });
      stats.downloads++;
      const file = assets[op.aspectRatio === '9:16' ? '9:16' : '16:9'];
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': statSync(file).size });
      createReadStream(file).pipe(res);
      return;
    }

    send(res, 404, {
      error: { code: 404, message: `No route ${req.method} ${url.pathname}`, status: 'NOT_FOUND' },
    });
  }

  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
  );
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://${options.host ?? '127.0.0.1'}:${port}`;

  return {
    url: baseUrl,
    stats,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function finishedOperation(name: string, op: Operation, baseUrl: string) {
  const type = 'type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse';
  if (op.prompt.includes('[fail]')) {
    return {
      name,
      done: true,
      error: { code: 13, message: 'Video generation failed due to an internal error.' },
    };
  }
  if (op.prompt.includes('[reject]')) {
    return {
      name,
      done: true,
      response: {
        '@type': type,
        generateVideoResponse: {
          raiMediaFilteredCount: 1,
          raiMediaFilteredReasons: ['The prompt could not be submitted: it may violate our policies.'],
        },
      },
    };
  }
  return {
    name,
    done: true,
    response: {
      '@type': type,
      generateVideoResponse: {
        generatedSamples: [{ video: { uri: `${baseUrl}/v1beta/files/${op.id}:download?alt=media` } }],
      },
    },
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
