import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** A server on 127.0.0.1 for tests, counting the connections it saw. */
export interface TestServer {
  port: number;
  /** Connections accepted so far (a refusal must leave this at 0). */
  connections: number;
  /** Requests received so far, as "METHOD /path". */
  requests: string[];
  close(): Promise<void>;
}

export async function startTestServer(
  handler: http.RequestListener,
  tls?: { key: string | Buffer; cert: string | Buffer },
): Promise<TestServer> {
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  const state: TestServer = {
    port: 0,
    connections: 0,
    requests: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => {
    state.connections += 1;
  });
  server.on('request', (req: http.IncomingMessage) => {
    state.requests.push(`${req.method} ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  return state;
}

/**
 * Writes zeros in 64 KiB chunks, only as fast as the client reads, until `upTo` bytes are out or the
 * response is destroyed; `onChunk` hears of each chunk before it is written.
 */
export function pumpZeros(res: http.ServerResponse, upTo: number, onChunk: (bytes: number) => void): void {
  const chunk = 65_536;
  let written = 0;
  const pump = () => {
    while (!res.destroyed && written < upTo) {
      written += chunk;
      onChunk(chunk);
      if (!res.write(Buffer.alloc(chunk))) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

/**
 * A throwaway self-signed certificate for localhost and 127.0.0.1, made by openssl on the spot: no
 * private key is kept in the repo.
 */
export async function selfSignedLocalhost(): Promise<{ key: Buffer; cert: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), 'veo-tls-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  try {
    await promisify(execFile)('openssl', [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1'],
      ...['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      ...['-keyout', keyFile, '-out', certFile],
    ]);
    return { key: await readFile(keyFile), cert: await readFile(certFile) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
