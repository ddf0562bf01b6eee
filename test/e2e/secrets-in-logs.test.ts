import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../functions/core/api-keys';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient } from './support';

/**
 * Secrets never appear in logs or errors (issue 7): a task runs through the local stack with DEBUG
 * logging, upstream 429s and a callback receiver that fails, while every byte written to stdout/stderr
 * and every console call is captured. The API key, the webhook secret and the provider credentials must
 * appear in none of it, nor in any API answer. The key's SHA-256 hash is not a secret, but it is the
 * key's identity in the tables: it is not logged in full either.
 */
const captured: string[] = [];
const restore: (() => void)[] = [];
let stack: RunningLocalStack;
let client: ReturnType<typeof apiClient>;
let attempts = 0;
const receiver = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    attempts++;
    res.writeHead(500).end('receiver down');
  });
});

function capture() {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      captured.push(String(chunk));
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
    restore.push(() => {
      stream.write = write;
    });
  }
  for (const level of ['log', 'info', 'debug', 'warn', 'error', 'trace'] as const) {
    const original = console[level];
    console[level] = (...args: unknown[]) => {
      captured.push(args.map((a) => (typeof a === 'string' ? a : safeJson(a))).join(' '));
      original(...args);
    };
    restore.push(() => {
      console[level] = original;
    });
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

beforeAll(async () => {
  capture();
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  stack = await startLocalStack({
    port: 0,
    provider: 'gemini',
    simulatorLatencyMs: 800,
    // Upstream 429s on some submits and polls (deterministic), retried by the worker and the poller.
    simulator: { rateLimitRate: 0.6, seed: 42 },
    environment: { POWERTOOLS_LOG_LEVEL: 'DEBUG' },
  });
  client = apiClient(stack);
});

afterAll(async () => {
  await stack?.stop();
  receiver.close();
  for (const undo of restore.splice(0)) undo();
});

describe('secrets in logs and answers', () => {
  it('runs a task with upstream 429s and a failing callback without leaking a secret', async () => {
    const answers: string[] = [];
    const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const submit = await client.call<{ taskId: string }>('POST', '/api/v1/veo/generate', {
      body: { prompt: 'A dog playing in a park', callBackUrl: callbackUrl },
    });
    answers.push(JSON.stringify(submit.json));
    expect(submit.status).toBe(200);
    const taskId = submit.json.data.taskId;
    const record = await client.waitForRecord(
      taskId,
      (d) => d.successFlag !== 0 && (d.callbacks?.length ?? 0) >= 1,
      45_000,
    );
    answers.push(JSON.stringify(record));
    // Errors a client can provoke: a wrong key, a broken body, an unknown task.
    for (const [method, path, body, key] of [
      ['GET', '/api/v1/chat/credit', undefined, `${stack.apiKey}x`],
      ['POST', '/api/v1/veo/generate', '{"prompt":', undefined],
      ['GET', `/api/v1/veo/record-info?taskId=${stack.apiKey}`, undefined, undefined],
    ] as const) {
      answers.push(JSON.stringify((await client.call(method, path, { body, key })).json));
    }
    expect(attempts).toBeGreaterThanOrEqual(1);
    // The logs were really captured, including the failed delivery.
    expect(captured.join('')).toContain('callback not taken');

    const serviceAccount = JSON.parse(process.env.VERTEX_SERVICE_ACCOUNT_JSON ?? '{}') as {
      private_key?: string;
    };
    const privateKeyBody = (serviceAccount.private_key ?? '').split('\n')[5] ?? '';
    const secrets: Record<string, string> = {
      'API key': stack.apiKey,
      'API key hash (in full)': hashApiKey(stack.apiKey),
      'webhook secret': stack.webhookSecret,
      'webhook secret key bytes': stack.webhookSecret.replace(/^whsec_/, ''),
      GEMINI_API_KEY: process.env.GEMINI_API_KEY ?? '',
      KIE_API_KEY: process.env.KIE_API_KEY ?? '',
      KIE_WEBHOOK_SECRET: process.env.KIE_WEBHOOK_SECRET ?? '',
      'Vertex private key': privateKeyBody,
    };
    const logs = captured.join('\n');
    const answerText = answers.join('\n');
    const leaks = Object.entries(secrets)
      .filter(([, value]) => value.length >= 16)
      .flatMap(([name, value]) => [
        ...(logs.includes(value) ? [`${name} in logs`] : []),
        ...(answerText.includes(value) ? [`${name} in an API answer`] : []),
      ]);
    expect(Object.values(secrets).every((v) => v.length >= 16)).toBe(true);
    expect(leaks).toEqual([]);
  }, 60_000);
});
