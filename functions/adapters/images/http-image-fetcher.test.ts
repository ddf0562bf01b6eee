import type { LookupAddress } from 'node:dns';
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { pngBytes } from '../../../simulator/fixtures';
import { pumpZeros, startTestServer, type TestServer } from '../../../test/support/http-server';
import { blackPng } from '../../../test/support/images';
import { ImageRejectedError } from '../../core/errors';
import type { UrlPolicy } from '../../core/url-guard';
import { HttpImageFetcher } from './http-image-fetcher';

const local: UrlPolicy = { allowLoopback: true, allowHttp: true };
const deployed: UrlPolicy = { allowLoopback: false, allowHttp: true };

const fixture = (name: string) =>
  readFileSync(new URL(`../../../test/support/fixtures/images/${name}`, import.meta.url));

let servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function serve(handler: http.RequestListener): Promise<string> {
  const server = await startTestServer(handler);
  servers.push(server);
  return `http://127.0.0.1:${server.port}`;
}

/** Serves fixed bodies by path, with whatever Content-Type the test claims. */
async function serveFiles(files: Record<string, { body: Buffer | string; type: string }>): Promise<string> {
  return serve((req, res) => {
    const file = files[req.url ?? ''];
    if (!file) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-type': file.type }).end(file.body);
  });
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageRejectedError);
  return (error as ImageRejectedError).message;
}

describe('HttpImageFetcher', () => {
  it.each([
    { name: 'a PNG', bytes: pngBytes(7, 3), mimeType: 'image/png', width: 7, height: 3 },
    { name: 'a JPEG', bytes: fixture('12x8.jpg'), mimeType: 'image/jpeg', width: 12, height: 8 },
    {
      name: 'a lossy WebP',
      bytes: fixture('16x10-lossy.webp'),
      mimeType: 'image/webp',
      width: 16,
      height: 10,
    },
    {
      name: 'a lossless WebP',
      bytes: fixture('9x5-lossless.webp'),
      mimeType: 'image/webp',
      width: 9,
      height: 5,
    },
    {
      name: 'an extended WebP',
      bytes: fixture('10x14-alpha.webp'),
      mimeType: 'image/webp',
      width: 10,
      height: 14,
    },
  ])('accepts $name with its type and dimensions', async ({ bytes, mimeType, width, height }) => {
    // Prepare: the declared type is deliberately wrong; the bytes decide.
    const base = await serveFiles({ '/image': { body: bytes, type: 'application/octet-stream' } });
    const fetcher = new HttpImageFetcher({ policy: local });

    // Act
    const image = await fetcher.fetch(`${base}/image`);

    // Assess
    expect(image).toEqual({ bytes, mimeType, width, height });
  });

  it('refuses a text file served as image/png', async () => {
    const base = await serveFiles({
      '/fake.png': { body: 'hello, this is not a picture', type: 'image/png' },
    });

    const message = await rejection(new HttpImageFetcher({ policy: local }).fetch(`${base}/fake.png`));

    expect(message).toBe('is not a PNG, JPEG or WebP image');
  });

  it.each([
    { name: 'PNG', bytes: pngBytes(4, 4).subarray(0, 16) },
    { name: 'JPEG', bytes: fixture('12x8.jpg').subarray(0, 40) },
    { name: 'WebP', bytes: fixture('16x10-lossy.webp').subarray(0, 24) },
  ])('refuses a $name whose header is cut short', async ({ name, bytes }) => {
    const base = await serveFiles({ '/cut': { body: bytes, type: 'image/png' } });

    const message = await rejection(new HttpImageFetcher({ policy: local }).fetch(`${base}/cut`));

    expect(message).toBe(`is a damaged ${name} image: its size cannot be read`);
  });

  it('refuses a non-2xx answer, naming the status', async () => {
    const base = await serveFiles({});

    const message = await rejection(new HttpImageFetcher({ policy: local }).fetch(`${base}/missing.png`));

    expect(message).toBe('could not be fetched: HTTP 404');
  });

  it('refuses a redirect without following it', async () => {
    const seen: string[] = [];
    const base = await serve((req, res) => {
      seen.push(req.url ?? '');
      if (req.url === '/moved.png') res.writeHead(301, { location: '/a.png' }).end();
      else res.writeHead(200, { 'content-type': 'image/png' }).end(pngBytes(1, 1));
    });

    const message = await rejection(new HttpImageFetcher({ policy: local }).fetch(`${base}/moved.png`));

    expect(message).toBe('redirects (HTTP 301); give the final URL, redirects are not followed');
    expect(seen).toEqual(['/moved.png']);
  });

  it('refuses an image larger than the limit announced by Content-Length', async () => {
    const big = Buffer.concat([pngBytes(1, 1), Buffer.alloc(1000)]);
    const base = await serveFiles({ '/big.png': { body: big, type: 'image/png' } });
    const fetcher = new HttpImageFetcher({ policy: local, maxBytes: 100 });

    expect(await rejection(fetcher.fetch(`${base}/big.png`))).toBe('is larger than 100 bytes');
  });

  it('stops reading a streamed body as soon as it passes the limit', async () => {
    // Prepare: a valid PNG header followed by an endless body, without Content-Length.
    let written = 0;
    let closed = false;
    const base = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.on('close', () => {
        closed = true;
      });
      res.write(pngBytes(4000, 3000).subarray(0, 33));
      pumpZeros(res, 100 * 1024 * 1024, (bytes) => {
        written += bytes;
      });
    });
    const fetcher = new HttpImageFetcher({ policy: local, maxBytes: 1024 * 1024 });

    // Act
    const message = await rejection(fetcher.fetch(`${base}/endless.png`));

    // Assess: refused, and the server was cut off long before it sent everything.
    expect(message).toBe('is larger than 1 MB');
    await expect.poll(() => closed).toBe(true);
    expect(written).toBeLessThan(20 * 1024 * 1024);
  });

  it('says 20 MB by default', async () => {
    const base = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(20 * 1024 * 1024 + 1) });
      res.end();
    });

    expect(await rejection(new HttpImageFetcher({ policy: local }).fetch(`${base}/x.png`))).toBe(
      'is larger than 20 MB',
    );
  });

  it('honours the timeout when the server never answers', async () => {
    const base = await serve(() => {});
    const fetcher = new HttpImageFetcher({ policy: local, timeoutMs: 150 });
    const started = Date.now();

    const message = await rejection(fetcher.fetch(`${base}/slow.png`));

    expect(message).toBe('could not be fetched: timed out after 150 ms');
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('refuses loopback when the policy does not allow it, without connecting', async () => {
    const server = await startTestServer((_req, res) => res.end(pngBytes(1, 1)));
    servers.push(server);

    const message = await rejection(
      new HttpImageFetcher({ policy: deployed }).fetch(`http://127.0.0.1:${server.port}/a.png`),
    );

    expect(message).toBe('must not point to a loopback address');
    expect(server.connections).toBe(0);
  });

  it('refuses a name that resolves to loopback (DNS rebinding) before connecting', async () => {
    const server = await startTestServer((_req, res) => res.end(pngBytes(1, 1)));
    servers.push(server);
    const lookup = async (): Promise<LookupAddress[]> => [{ address: '127.0.0.1', family: 4 }];

    const message = await rejection(
      new HttpImageFetcher({ policy: deployed, lookup }).fetch(`http://rebind.test:${server.port}/a.png`),
    );

    expect(message).toBe('resolves to a loopback address');
    expect(server.connections).toBe(0);
  });

  it('refuses a name that resolves to a private address before connecting', async () => {
    const lookup = async (): Promise<LookupAddress[]> => [{ address: '10.0.0.1', family: 4 }];

    const message = await rejection(
      new HttpImageFetcher({ policy: deployed, lookup }).fetch('https://evil.test/a.png'),
    );

    expect(message).toBe('resolves to a private address');
  });

  it('refuses a 420 KB PNG declaring 12000×12000 from its header, without reading the rest', async () => {
    // Prepare: the real bomb's first 64 KB, then an endless body: only the header can have decided.
    const bomb = await blackPng(12000, 12000);
    expect(bomb.length).toBeLessThan(500 * 1024);
    let written = 0;
    let closed = false;
    const base = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.on('close', () => {
        closed = true;
      });
      res.write(bomb.subarray(0, 65_536));
      pumpZeros(res, 100 * 1024 * 1024, (bytes) => {
        written += bytes;
      });
    });

    // Act
    const message = await rejection(new HttpImageFetcher({ policy: local }).fetch(`${base}/bomb.png`));

    // Assess
    expect(message).toBe('is 12000x12000 pixels; at most 40 megapixels are accepted');
    await expect.poll(() => closed).toBe(true);
    expect(written).toBeLessThan(5 * 1024 * 1024);
  }, 30_000);

  it('refuses a 200-megapixel PNG and a 20-megapixel WebP, served whole', async () => {
    const huge = await blackPng(20_000, 10_000, 1);
    const webp = await sharp({ create: { width: 5000, height: 4000, channels: 3, background: '#123456' } })
      .webp()
      .toBuffer();
    const base = await serveFiles({
      '/huge.png': { body: huge, type: 'image/png' },
      '/wide.webp': { body: webp, type: 'image/webp' },
    });
    const fetcher = new HttpImageFetcher({ policy: local });

    expect(await rejection(fetcher.fetch(`${base}/huge.png`))).toBe(
      'is 20000x10000 pixels; at most 40 megapixels are accepted',
    );
    expect(await rejection(fetcher.fetch(`${base}/wide.webp`))).toBe(
      'is 5000x4000 pixels; at most 16 megapixels are accepted for WebP',
    );
  }, 30_000);

  it('takes its limit from the options, in any format', async () => {
    const base = await serveFiles({ '/a.webp': { body: fixture('16x10-lossy.webp'), type: 'image/webp' } });
    const small = new HttpImageFetcher({ policy: local, maxPixels: 100 });
    expect(await rejection(small.fetch(`${base}/a.webp`))).toBe(
      'is 16x10 pixels; at most 100 pixels are accepted',
    );
  });

  it('accepts an image at the pixel limit', async () => {
    const base = await serveFiles({ '/a.png': { body: pngBytes(10, 10), type: 'image/png' } });
    const image = await new HttpImageFetcher({ policy: local, maxPixels: 100 }).fetch(`${base}/a.png`);
    expect(image).toMatchObject({ width: 10, height: 10 });
  });

  it('stops a fetch when its signal aborts, closing the connection', async () => {
    let closed = false;
    const base = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.on('close', () => {
        closed = true;
      });
      res.write(pngBytes(4, 4).subarray(0, 33)); // a header, then nothing more
    });
    const stop = new AbortController();
    const started = Date.now();
    const fetching = new HttpImageFetcher({ policy: local, timeoutMs: 10_000 }).fetch(
      `${base}/stalled.png`,
      stop.signal,
    );
    setTimeout(() => stop.abort(new Error('a sibling image failed')), 100);

    await expect(fetching).rejects.toThrow('a sibling image failed');
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect.poll(() => closed).toBe(true);
  });

  it('reports a refused connection by its code', async () => {
    // A port that was just free: bind, note, close.
    const server = await startTestServer(() => {});
    await server.close();

    const message = await rejection(
      new HttpImageFetcher({ policy: local }).fetch(`http://127.0.0.1:${server.port}/a.png`),
    );

    expect(message).toBe('could not be fetched: connection refused');
  });
});
