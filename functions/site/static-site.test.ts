import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpEvent } from '../../test/support/http-events';
import {
  assetPathFor,
  containedPath,
  contentSecurityPolicy,
  createSiteHandler,
  readSiteSettings,
  siteRouteKeys,
} from './static-site';

const event = httpEvent;

const bodyOf = (result: APIGatewayProxyStructuredResultV2) => {
  const raw = Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8');
  return (result.headers?.['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
};

describe('assetPathFor', () => {
  it.each([
    ['/playground', 'playground/index.html'],
    ['/playground/', 'playground/index.html'],
    ['/docs', 'docs/index.html'],
    ['/playground/playground.js', 'playground/playground.js'],
    ['/docs/swagger-ui/swagger-ui-bundle.js', 'docs/swagger-ui/swagger-ui-bundle.js'],
    ['/docs/swagger-ui/swagger%2Dui.css', 'docs/swagger-ui/swagger-ui.css'],
  ])('maps %s to %s', (path, file) => {
    expect(assetPathFor(path)).toBe(file);
  });

  it.each([
    '/',
    '/etc/passwd',
    '/api/v1/veo/generate',
    '/playgroundx/index.html',
    '/playground/../package.json',
    '/playground/%2e%2e/package.json',
    '/playground/%2E%2E%2Fpackage.json',
    '/docs/..%2f..%2fpackage.json',
    '/docs/swagger-ui/..\\..\\x.js',
    '/docs/%5c..%5cx.js',
    '/playground/./index.html',
    '/playground//index.html',
    '/playground/.hidden.js',
    '/playground/index.html%00.js',
    '/playground/%E0%A4%A.js',
    '/playground/index.ts',
    '/playground/playground.js.map',
    '/docs/swagger-ui',
  ])('refuses %s', (path) => {
    expect(assetPathFor(path)).toBeUndefined();
  });
});

describe('containedPath', () => {
  it('keeps files inside the root and refuses anything resolving outside it', () => {
    expect(containedPath('/srv/site', 'docs/index.html')).toBe('/srv/site/docs/index.html');
    expect(containedPath('/srv/site', '../site-other/x.js')).toBeUndefined();
    expect(containedPath('/srv/site', '/etc/passwd')).toBeUndefined();
    expect(containedPath('/srv/site', '.')).toBeUndefined();
  });
});

describe('contentSecurityPolicy', () => {
  it('allows only our origin, and media from the video store', () => {
    const policy = contentSecurityPolicy(['https://videos.s3.eu-west-1.amazonaws.com']);
    const directives = Object.fromEntries(
      policy.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]),
    );
    expect(directives).toEqual({
      'default-src': "'self'",
      'script-src': "'self'",
      'style-src': "'self'",
      'img-src': "'self' data:",
      'media-src': "'self' https://videos.s3.eu-west-1.amazonaws.com",
      'connect-src': "'self'",
      'font-src': "'self'",
      'object-src': "'none'",
      'base-uri': "'none'",
      'form-action': "'self'",
      'frame-ancestors': "'none'",
    });
    expect(policy).not.toContain('unsafe');
  });
});

describe('readSiteSettings', () => {
  it('reads the bucket, region, S3 endpoint and asset folder', () => {
    expect(readSiteSettings({ VIDEO_BUCKET: 'b', AWS_REGION: 'eu-west-1' })).toEqual({
      bucket: 'b',
      region: 'eu-west-1',
      s3Endpoint: undefined,
      videoOrigin: undefined,
      assetsDir: undefined,
    });
    // The stack's own origin (its partition's suffix) wins over the one the site would build.
    expect(
      readSiteSettings({
        VIDEO_BUCKET: 'b',
        AWS_REGION: 'cn-north-1',
        VIDEO_ORIGIN: 'https://b.s3.cn-north-1.amazonaws.com.cn',
      }).videoOrigin,
    ).toBe('https://b.s3.cn-north-1.amazonaws.com.cn');
    expect(
      readSiteSettings({
        VIDEO_BUCKET: 'b',
        AWS_REGION: 'us-east-1',
        S3_ENDPOINT: 'http://127.0.0.1:1234',
        SITE_ASSETS_DIR: '/tmp/site',
      }),
    ).toMatchObject({ s3Endpoint: 'http://127.0.0.1:1234', assetsDir: '/tmp/site' });
  });

  it('fails fast without a bucket or region, or with an endpoint that is not a URL', () => {
    expect(() => readSiteSettings({ AWS_REGION: 'us-east-1' })).toThrow('VIDEO_BUCKET is required');
    expect(() => readSiteSettings({ VIDEO_BUCKET: 'b' })).toThrow('AWS_REGION is required');
    expect(() => readSiteSettings({ VIDEO_BUCKET: 'b', AWS_REGION: 'r', S3_ENDPOINT: 'nope' })).toThrow(
      'S3_ENDPOINT is not a URL',
    );
    expect(() => readSiteSettings({ VIDEO_BUCKET: 'b', AWS_REGION: 'r', VIDEO_ORIGIN: 'b.s3' })).toThrow(
      'VIDEO_ORIGIN is not a URL',
    );
  });
});

describe('site handler', () => {
  let root: string;
  let outside: string;
  const bigScript = `console.log(${JSON.stringify('x'.repeat(5000))});`;
  let handler: ReturnType<typeof createSiteHandler>;

  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'veo-site-test-'));
    root = join(dir, 'site');
    outside = dir;
    mkdirSync(join(root, 'playground'), { recursive: true });
    mkdirSync(join(root, 'docs'), { recursive: true });
    writeFileSync(join(root, 'playground/index.html'), '<!doctype html><title>p</title>');
    writeFileSync(join(root, 'playground/playground.js'), bigScript);
    writeFileSync(join(root, 'playground/favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    writeFileSync(join(root, 'docs/index.html'), '<!doctype html><title>d</title>');
    writeFileSync(join(outside, 'secret.txt'), 'not for the web');
    handler = createSiteHandler({ root, mediaOrigins: ['http://127.0.0.1:4566'] });
  });

  afterAll(() => rmSync(outside, { recursive: true, force: true }));

  it('routes exactly the pages and their files', () => {
    expect(siteRouteKeys).toEqual([
      'GET /',
      'GET /playground',
      'GET /playground/{proxy+}',
      'GET /docs',
      'GET /docs/{proxy+}',
    ]);
  });

  it('serves the pages with their type, the CSP and the other security headers', async () => {
    const result = await handler(event('/playground'));
    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toBe('<!doctype html><title>p</title>');
    expect(result.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': contentSecurityPolicy(['http://127.0.0.1:4566']),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'cache-control': 'no-cache',
    });
    expect((await handler(event('/docs'))).headers?.['content-security-policy']).toContain(
      "default-src 'self'",
    );
  });

  it.each([
    ['/playground/playground.js', 'text/javascript; charset=utf-8'],
    ['/playground/favicon.svg', 'image/svg+xml'],
  ])('serves %s as %s', async (path, type) => {
    const result = await handler(event(path));
    expect(result.statusCode).toBe(200);
    expect(result.headers?.['content-type']).toBe(type);
    expect(result.headers?.['cache-control']).toBe('public, max-age=300');
  });

  it('gzips larger text files for clients that accept it, and only them', async () => {
    const plain = await handler(event('/playground/playground.js'));
    const gzipped = await handler(
      event('/playground/playground.js', 'GET', { 'accept-encoding': 'gzip, br' }),
    );
    expect(plain.headers?.['content-encoding']).toBeUndefined();
    expect(gzipped.headers).toMatchObject({ 'content-encoding': 'gzip', vary: 'accept-encoding' });
    expect(bodyOf(plain)).toBe(bigScript);
    expect(bodyOf(gzipped)).toBe(bigScript);
    expect(Buffer.from(gzipped.body ?? '', 'base64').length).toBeLessThan(bigScript.length / 10);
  });

  it('redirects / to the playground', async () => {
    const result = await handler(event('/'));
    expect(result.statusCode).toBe(302);
    expect(result.headers?.location).toBe('/playground');
  });

  it.each([
    '/playground/missing.js',
    '/playground/../secret.txt',
    '/playground/%2e%2e/%2e%2e/secret.txt',
    '/docs/..%2F..%2Fsecret.txt',
    '/elsewhere',
  ])('answers %s with the 404 envelope', async (path) => {
    const result = await handler(event(path));
    expect(result.statusCode).toBe(404);
    expect(result.headers?.['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(result.body ?? '')).toEqual({
      code: 404,
      msg: `Not found: no route for GET ${path}`,
      data: null,
    });
    expect(result.body).not.toContain('not for the web');
  });

  it('keeps no memory of misses: 20,000 unique 404s cache nothing, and a file that appears is served', async () => {
    // Prepare: one hit, cached for good.
    expect((await handler(event('/playground'))).statusCode).toBe(200);
    const cached = handler.cachedFiles();
    expect(cached).toBeGreaterThan(0);

    // Act: unique names a client made up, long ones (each would have kept its key and a promise).
    const padding = 'p'.repeat(1000);
    for (let i = 0; i < 20_000; i += 500) {
      const batch = Array.from({ length: 500 }, (_, j) => handler(event(`/docs/${padding}-${i + j}.js`)));
      for (const result of await Promise.all(batch)) expect(result.statusCode).toBe(404);
    }

    // Assess: the cache is what it was; a miss is looked up again next time, so a new file is found.
    expect(handler.cachedFiles()).toBe(cached);
    expect((await handler(event('/docs/late.js'))).statusCode).toBe(404);
    writeFileSync(join(root, 'docs/late.js'), 'console.log(1);');
    expect((await handler(event('/docs/late.js'))).statusCode).toBe(200);
    expect(handler.cachedFiles()).toBe(cached + 1);
  });

  it('answers other methods with a 404', async () => {
    expect((await handler(event('/playground', 'POST'))).statusCode).toBe(404);
  });
});
