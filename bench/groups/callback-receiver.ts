import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook } from '../../functions/core/webhook-signatures';

/** What a task's client received: callbacks whose signatures verified, those refused, the last code. */
export interface Received {
  verified: number;
  refused: number;
  code?: number;
}

/**
 * A client's callback receiver on loopback that verifies both signatures of every callback (the secret is
 * set once the stack has made it), and can be taken down (connections refused) and brought back on the
 * same port, as a client's server going away for a while.
 */
export async function startCallbackReceiver() {
  const received = new Map<string, Received>();
  let secret = '';
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let taskId = '';
      let code: number | undefined;
      let ok = false;
      try {
        const body = verifyWebhook(secret, req.headers, raw) as { code?: number; data?: { taskId?: string } };
        taskId = body.data?.taskId ?? '';
        code = body.code;
        ok = true;
      } catch {
        taskId = (JSON.parse(raw) as { data?: { taskId?: string } }).data?.taskId ?? '';
      }
      const entry = received.get(taskId) ?? { verified: 0, refused: 0 };
      if (ok) {
        entry.verified++;
        entry.code = code;
      } else entry.refused++;
      received.set(taskId, entry);
      res.writeHead(200).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/callback`,
    received,
    setSecret(value: string) {
      secret = value;
    },
    /** Stops listening (callbacks meet a refused connection) until `up`. */
    async down() {
      server.closeAllConnections();
      await new Promise<void>((closed) => server.close(() => closed()));
    },
    async up() {
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
    stop() {
      server.closeAllConnections();
      server.close();
    },
  };
}
