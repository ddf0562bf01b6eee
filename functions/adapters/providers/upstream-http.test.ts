import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { UpstreamUnavailableError } from '../../core/errors';
import { upstreamFetch } from './upstream-http';

const call = { provider: 'test', timeoutMs: 300, secrets: [] };

async function failure(url: string): Promise<UpstreamUnavailableError> {
  try {
    await upstreamFetch(call, url, { method: 'POST', body: '{}' });
  } catch (error) {
    if (error instanceof UpstreamUnavailableError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

/** Whether a failed submit may have started a generation: only what surely sent nothing may go elsewhere. */
describe("a failed call's fate", () => {
  it('is refused when nothing listens (connection refused) and when the upstream answered 503', async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const { port } = closed.address() as AddressInfo;
    await new Promise((done) => closed.close(done));
    expect((await failure(`http://127.0.0.1:${port}/`)).fate).toBe('refused');

    const busy = createServer((_, res) => res.writeHead(503).end('busy'));
    await new Promise<void>((done) => busy.listen(0, '127.0.0.1', done));
    try {
      expect((await failure(`http://127.0.0.1:${(busy.address() as AddressInfo).port}/`)).fate).toBe(
        'refused',
      );
    } finally {
      busy.close();
    }
  });

  it('is unknown when the request went out and no answer came (timeout, reset)', async () => {
    const silent = createServer(() => {});
    const reset = createServer((req) => req.socket.destroy());
    for (const server of [silent, reset])
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      expect((await failure(`http://127.0.0.1:${(silent.address() as AddressInfo).port}/`)).fate).toBe(
        'unknown',
      );
      expect((await failure(`http://127.0.0.1:${(reset.address() as AddressInfo).port}/`)).fate).toBe(
        'unknown',
      );
    } finally {
      silent.closeAllConnections();
      silent.close();
      reset.close();
    }
  });
});
