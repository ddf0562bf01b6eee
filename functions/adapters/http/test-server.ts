import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

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
