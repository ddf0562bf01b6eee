import type { LookupAddress } from 'node:dns';
import { text } from 'node:stream/consumers';
import { afterEach, describe, expect, it } from 'vitest';
import {
  pumpZeros,
  selfSignedLocalhost,
  startTestServer,
  type TestServer,
} from '../../../test/support/http-server';
import type { UrlPolicy } from '../../core/url-guard';
import {
  type GuardedRequestOptions,
  guardedRequest,
  RequestTimeoutError,
  ResponseTooLargeError,
  UrlRefusedError,
} from './guarded-request';

const local: UrlPolicy = { allowLoopback: true, allowHttp: true };
const deployed: UrlPolicy = { allowLoopback: false, allowHttp: true };

let servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function serve(...args: Parameters<typeof startTestServer>): Promise<TestServer> {
  const server = await startTestServer(...args);
  servers.push(server);
  return server;
}

const get = (overrides: Partial<GuardedRequestOptions> = {}): GuardedRequestOptions => ({
  method: 'GET',
  timeoutMs: 2_000,
  policy: local,
  subject: 'callBackUrl',
  ...overrides,
});

/** A resolver that answers from a table, counting its calls; it never asks the real DNS. */
function resolver(table: Record<string, LookupAddress[]>) {
  const calls: string[] = [];
  const lookup = async (hostname: string) => {
    calls.push(hostname);
    return table[hostname] ?? [];
  };
  return { lookup, calls };
}

const v4 = (address: string): LookupAddress => ({ address, family: 4 });

async function refusal(promise: Promise<unknown>): Promise<UrlRefusedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UrlRefusedError);
  return error as UrlRefusedError;
}

describe('guardedRequest', () => {
  it('sends the method, headers and body, and returns status, headers and body', async () => {
    // Prepare
    let received: { body: string; headers: Record<string, unknown> } | undefined;
    const server = await serve(async (req, res) => {
      received = { body: await text(req), headers: req.headers };
      res.writeHead(201, { 'x-reply': 'yes' }).end('thanks');
    });

    // Act
    const response = await guardedRequest(`http://127.0.0.1:${server.port}/cb?x=1`, {
      ...get(),
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-webhook-signature': 'sig' },
      body: '{"code":200}',
    });

    // Assess
    expect(response.status).toBe(201);
    expect(response.headers['x-reply']).toBe('yes');
    expect(await text(response.body)).toBe('thanks');
    expect(server.requests).toEqual(['POST /cb?x=1']);
    expect(received?.body).toBe('{"code":200}');
    expect(received?.headers).toMatchObject({
      'content-type': 'application/json',
      'content-length': '12',
      'x-webhook-signature': 'sig',
    });
  });

  it('connects a resolved name to the address it checked, resolving it once', async () => {
    const server = await serve((req, res) => res.end(req.headers.host));
    const { lookup, calls } = resolver({ 'images.test': [v4('127.0.0.1')] });

    const response = await guardedRequest(`http://images.test:${server.port}/a.png`, get({ lookup }));

    expect(await text(response.body)).toBe(`images.test:${server.port}`);
    expect(calls).toEqual(['images.test']);
  });

  it('reaches an IPv6 literal and localhost on loopback when the policy allows it', async () => {
    const server = await serve((_req, res) => res.end('ok'));
    const response = await guardedRequest(`http://localhost:${server.port}/`, get());
    expect(await text(response.body)).toBe('ok');
    // The server listens on IPv4 only: an IPv4-mapped literal reaches it through the dual-stack socket.
    const mapped = await guardedRequest(`http://[::ffff:127.0.0.1]:${server.port}/`, get());
    expect(await text(mapped.body)).toBe('ok');
  });

  it('returns a redirect as it is and does not follow it', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/start') res.writeHead(302, { location: '/elsewhere' }).end();
      else res.end('followed');
    });

    const response = await guardedRequest(`http://127.0.0.1:${server.port}/start`, get());
    response.body.resume();

    expect(response.status).toBe(302);
    expect(response.headers.location).toBe('/elsewhere');
    expect(server.requests).toEqual(['GET /start']);
  });

  describe('refuses before any connection is made', () => {
    it('a loopback literal when loopback is not allowed', async () => {
      const server = await serve((_req, res) => res.end());

      const error = await refusal(
        guardedRequest(`http://127.0.0.1:${server.port}/`, get({ policy: deployed })),
      );

      expect(error.message).toBe('callBackUrl must not point to a loopback address');
      expect(server.connections).toBe(0);
    });

    it('a name that resolves to loopback (DNS rebinding), with the server never contacted', async () => {
      const server = await serve((_req, res) => res.end());
      const { lookup } = resolver({ 'rebind.test': [v4('127.0.0.1')] });

      const error = await refusal(
        guardedRequest(`http://rebind.test:${server.port}/`, get({ policy: deployed, lookup })),
      );

      expect(error.message).toBe('callBackUrl resolves to a loopback address');
      expect(error.reason).toBe('resolves to a loopback address');
      expect(server.connections).toBe(0);
    });

    it.each([
      [[v4('10.0.0.1')], 'resolves to a private address'],
      [[v4('93.184.215.14'), v4('10.0.0.1')], 'resolves to a private address'],
      [[v4('169.254.169.254')], 'resolves to a link-local or metadata address'],
      [[{ address: 'fd00:ec2::254', family: 6 }], 'resolves to a metadata address'],
      [[{ address: '::ffff:192.168.1.1', family: 6 }], 'resolves to a private address'],
      [[{ address: '64:ff9b::a00:1', family: 6 }], 'resolves to a private address'],
      [[v4('100.64.0.1')], 'resolves to a carrier-grade NAT address'],
      [[v4('0.0.0.0')], 'resolves to an unspecified address'],
      [[{ address: 'fe80::1%eth0', family: 6 }], 'resolves to a link-local address'],
      [[], 'does not resolve to any address'],
    ])('a name that resolves to %j', async (answer, reason) => {
      const { lookup } = resolver({ 'evil.test': answer });

      const error = await refusal(guardedRequest('https://evil.test/cb', get({ policy: local, lookup })));

      expect(error.reason).toBe(reason);
    });

    it('a URL with credentials, without repeating them', async () => {
      const error = await refusal(guardedRequest('https://user:s3cret@example.com/cb', get()));

      expect(error.message).toBe('callBackUrl must not carry credentials');
      expect(error.message).not.toContain('s3cret');
    });

    it.each([
      ['http://10.1.2.3/', 'must not point to a private address'],
      ['http://[fd00:ec2::254]/', 'must not point to a metadata address'],
      ['http://0x7f.1/', 'must not point to a loopback address'],
      ['ftp://example.com/', 'must be an absolute http(s) URL'],
    ])('%s', async (url, reason) => {
      const { lookup, calls } = resolver({});
      const error = await refusal(guardedRequest(url, get({ policy: deployed, lookup })));
      expect(error.reason).toBe(reason);
      expect(calls).toEqual([]);
    });

    it('http when the policy requires https', async () => {
      const error = await refusal(
        guardedRequest('http://example.com/', get({ policy: { allowLoopback: false, allowHttp: false } })),
      );
      expect(error.reason).toBe('must use https');
    });
  });

  describe('timeout', () => {
    it('covers a server that accepts and never answers', async () => {
      const server = await serve(() => {});
      const started = Date.now();

      const error = await guardedRequest(`http://127.0.0.1:${server.port}/`, get({ timeoutMs: 150 })).catch(
        (e: unknown) => e,
      );

      expect(error).toBeInstanceOf(RequestTimeoutError);
      expect(Date.now() - started).toBeLessThan(1_500);
    });

    it('covers a body that stalls after the headers', async () => {
      const server = await serve((_req, res) => {
        res.writeHead(200);
        res.write('partial');
      });

      const response = await guardedRequest(`http://127.0.0.1:${server.port}/`, get({ timeoutMs: 150 }));

      await expect(text(response.body)).rejects.toBeInstanceOf(RequestTimeoutError);
    });

    it('closes a body the caller left unread, without an unhandled error', async () => {
      let closed = false;
      const server = await serve((_req, res) => {
        res.on('close', () => {
          closed = true;
        });
        res.writeHead(200);
        res.write('never finished');
      });

      const response = await guardedRequest(`http://127.0.0.1:${server.port}/`, get({ timeoutMs: 100 }));

      expect(response.status).toBe(200);
      await expect.poll(() => closed).toBe(true);
      expect(response.body.destroyed).toBe(true);
    });

    it('covers name resolution', async () => {
      const lookup = () => new Promise<LookupAddress[]>(() => {});

      await expect(
        guardedRequest('https://slow.test/', get({ timeoutMs: 100, lookup })),
      ).rejects.toBeInstanceOf(RequestTimeoutError);
    });
  });

  describe('maxResponseBytes', () => {
    it('refuses a body whose Content-Length announces more, before reading it', async () => {
      const server = await serve((_req, res) => {
        res.writeHead(200, { 'content-length': '1000' }).end(Buffer.alloc(1000));
      });

      await expect(
        guardedRequest(`http://127.0.0.1:${server.port}/`, get({ maxResponseBytes: 999 })),
      ).rejects.toBeInstanceOf(ResponseTooLargeError);
    });

    it('ends a streamed body as soon as it passes the limit', async () => {
      let written = 0;
      let serverSawClose = false;
      const server = await serve((_req, res) => {
        res.writeHead(200);
        res.on('close', () => {
          serverSawClose = true;
        });
        // 64 KiB at a time, up to 50 MiB, as long as the client keeps reading.
        pumpZeros(res, 50 * 1024 * 1024, (bytes) => {
          written += bytes;
        });
      });

      const response = await guardedRequest(
        `http://127.0.0.1:${server.port}/`,
        get({ maxResponseBytes: 256 * 1024 }),
      );

      await expect(text(response.body)).rejects.toBeInstanceOf(ResponseTooLargeError);
      await expect.poll(() => serverSawClose).toBe(true);
      expect(written).toBeLessThan(10 * 1024 * 1024);
    });
  });

  it('verifies TLS certificates', async () => {
    const server = await serve((_req, res) => res.end('ok'), await selfSignedLocalhost());

    const error = await guardedRequest(`https://localhost:${server.port}/`, get()).catch((e: unknown) => e);

    expect((error as NodeJS.ErrnoException).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(server.requests).toEqual([]);
  });
});
