import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fault-injection proxy in front of fauxqs, for the soak bench (issue 14's fault table): the functions'
 * SQS endpoint points here, and every call passes through to fauxqs unless the current rule says to fail
 * it, in which case it answers as SQS does on an internal error (500, retryable: the SDK retries it as it
 * would in AWS). Only the functions' calls pass here; the local event sources talk to fauxqs directly.
 */
export interface SqsCall {
  /** The JSON protocol's operation, e.g. `SendMessage` (from `x-amz-target: AmazonSQS.SendMessage`). */
  action: string;
  queueUrl: string;
  /** SendMessage's body, parsed when it is JSON. */
  messageBody?: unknown;
  /** SendMessageBatch's bodies, each parsed when it is JSON (the whole batch fails or passes). */
  messageBodies?: unknown[];
}

/** The bodies a call sends: SendMessage's one, or each of a SendMessageBatch's. */
export function sentBodies(call: SqsCall): unknown[] {
  if (call.action === 'SendMessage') return [call.messageBody];
  return call.action === 'SendMessageBatch' ? (call.messageBodies ?? []) : [];
}

/** Decides, for one attempt of one call, whether it fails. */
export type SqsFaultRule = (call: SqsCall) => boolean;

export interface SqsFaultProxy {
  url: string;
  /** Where calls go; set once fauxqs's endpoint is known. */
  target: string;
  /** The rule in force (undefined: pass everything). */
  rule: SqsFaultRule | undefined;
  /** Attempts failed so far, by operation. */
  readonly failed: Record<string, number>;
  stop(): Promise<void>;
}

export async function startSqsFaultProxy(target = ''): Promise<SqsFaultProxy> {
  const failed: Record<string, number> = {};
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const call = describe(req.headers, body);
      if (call && proxy.rule?.(call)) {
        failed[call.action] = (failed[call.action] ?? 0) + 1;
        res
          .writeHead(500, { 'content-type': 'application/x-amz-json-1.0' })
          .end(JSON.stringify({ __type: 'com.amazonaws.sqs#InternalError', message: 'injected fault' }));
        return;
      }
      const upstream = new URL(proxy.target);
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.writeHead(502).end());
      forward.end(body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const proxy: SqsFaultProxy = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    target,
    rule: undefined,
    failed,
    async stop() {
      server.closeAllConnections();
      server.close();
    },
  };
  return proxy;
}

function describe(headers: IncomingHttpHeaders, body: Buffer): SqsCall | undefined {
  const target = headers['x-amz-target'];
  if (typeof target !== 'string' || !target.startsWith('AmazonSQS.')) return undefined;
  try {
    const input = JSON.parse(body.toString('utf8')) as {
      QueueUrl?: string;
      MessageBody?: string;
      Entries?: { MessageBody?: string }[];
    };
    return {
      action: target.slice('AmazonSQS.'.length),
      queueUrl: input.QueueUrl ?? '',
      messageBody: parsed(input.MessageBody),
      ...(input.Entries && { messageBodies: input.Entries.map((entry) => parsed(entry.MessageBody)) }),
    };
  } catch {
    return undefined;
  }
}

function parsed(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
