import { readFile } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/**
 * The playground and the API reference: static files served by their own small function, so neither
 * the renderer's 1.7 MB bundle nor the page's code lands in the api function. The files are built by
 * site/build.ts into one directory (beside index.mjs when deployed, a temporary one locally).
 */

/** API Gateway route keys of the site; CDK and the local gateway both route exactly these here. */
export const siteRouteKeys = [
  'GET /',
  'GET /playground',
  'GET /playground/{proxy+}',
  'GET /docs',
  'GET /docs/{proxy+}',
] as const;

/** Top-level folders of the asset directory, each the page at `/<section>` plus its files below it. */
const sections = ['playground', 'docs'] as const;

/** The only files served: by extension, with their media types. Anything else is a 404. */
export const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
};

const compressible = new Set(['.html', '.js', '.css', '.json', '.svg', '.txt']);

/**
 * Only our own origin, plus the video store's origin for media: results are presigned S3 URLs on
 * another origin (the bucket's S3 endpoint deployed, the S3 emulator locally). No inline script
 * anywhere; `data:` images because the renderer's stylesheet draws its icons with them.
 */
export function contentSecurityPolicy(mediaOrigins: readonly string[]): string {
  const media = ["'self'", ...mediaOrigins].join(' ');
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `media-src ${media}`,
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export interface SiteSettings {
  bucket: string;
  region: string;
  s3Endpoint?: string;
  /** The videos' origin as the stack knows it (VIDEO_ORIGIN: its partition's DNS suffix); else videoOrigin's. */
  videoOrigin?: string;
  assetsDir?: string;
}

/**
 * The site function's five variables. Checked by hand rather than with the config schema (zod), which
 * would more than double this function's bundle for four strings.
 */
export function readSiteSettings(env: Record<string, string | undefined>): SiteSettings {
  const required = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`Invalid site configuration: ${name} is required`);
    return value;
  };
  const url = (name: string) => {
    const value = env[name] || undefined;
    if (value !== undefined && !URL.canParse(value)) {
      throw new Error(`Invalid site configuration: ${name} is not a URL`);
    }
    return value;
  };
  const origin = url('VIDEO_ORIGIN');
  return {
    bucket: required('VIDEO_BUCKET'),
    region: required('AWS_REGION'),
    s3Endpoint: url('S3_ENDPOINT'),
    videoOrigin: origin && new URL(origin).origin,
    assetsDir: env.SITE_ASSETS_DIR || undefined,
  };
}

/**
 * The file a request path names, relative to the asset directory, or undefined when it names none:
 * `/playground` and `/docs` are their index.html; below them only plain file names with a known
 * extension, never `..`, `.` or dot-files, backslashes, NUL or an empty segment (encoded or not).
 */
export function assetPathFor(rawPath: string): string | undefined {
  const [, section, rest] = /^\/([^/]+)(?:\/(.*))?$/.exec(rawPath) ?? [];
  if (!sections.includes(section as (typeof sections)[number])) return undefined;
  if (rest === undefined || rest === '') return `${section}/index.html`;
  let decoded: string;
  try {
    decoded = decodeURIComponent(rest);
  } catch {
    return undefined;
  }
  if (/[\\\0]/.test(decoded)) return undefined;
  const segments = decoded.split('/');
  if (segments.some((s) => s === '' || s.startsWith('.'))) return undefined;
  if (!(extname(decoded) in contentTypes)) return undefined;
  return `${section}/${decoded}`;
}

/** `file` inside `root`, or undefined if it would resolve anywhere else (a second line of defence). */
export function containedPath(root: string, file: string): string | undefined {
  const base = resolve(root);
  const full = resolve(base, file);
  return full.startsWith(base + sep) ? full : undefined;
}

export interface SiteOptions {
  /** The built asset directory (site/build.ts). */
  root: string;
  /** Origins media may come from besides our own: the video store's. */
  mediaOrigins: readonly string[];
}

interface Asset {
  body: Buffer;
  gzipped: Buffer | undefined;
  type: string;
}

export function createSiteHandler(options: SiteOptions) {
  const policy = contentSecurityPolicy(options.mediaOrigins);
  const headers = {
    'content-security-policy': policy,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
  };
  // The files never change while the function lives (they are part of the bundle): read each once. Only
  // files that exist stay cached, a set the bundle bounds; misses are whatever names clients make up
  // (20,000 unique 404s once kept 83 MB), and a failed read costs less than remembering it.
  const cache = new Map<string, Promise<Asset | undefined>>();
  const load = (file: string): Promise<Asset | undefined> => {
    let asset = cache.get(file);
    if (!asset) {
      asset = readAsset(options.root, file);
      cache.set(file, asset);
      const forget = () => cache.delete(file);
      asset.then((found) => found ?? forget(), forget);
    }
    return asset;
  };

  const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const method = event.requestContext.http.method.toUpperCase();
    const path = event.rawPath;
    if (method !== 'GET') return notFound(method, path, headers);
    if (path === '/') {
      return { statusCode: 302, headers: { ...headers, location: '/playground' }, body: '' };
    }
    const file = assetPathFor(path);
    const asset = file === undefined ? undefined : await load(file);
    if (!asset) return notFound(method, path, headers);
    const gzip = asset.gzipped !== undefined && /\bgzip\b/i.test(event.headers?.['accept-encoding'] ?? '');
    return {
      statusCode: 200,
      headers: {
        ...headers,
        'content-type': asset.type,
        // Pages always revalidate, so a deployment shows at once; their files may be kept a little.
        'cache-control': asset.type.startsWith('text/html') ? 'no-cache' : 'public, max-age=300',
        vary: 'accept-encoding',
        ...(gzip && { 'content-encoding': 'gzip' }),
      },
      body: (gzip ? (asset.gzipped as Buffer) : asset.body).toString('base64'),
      isBase64Encoded: true,
    };
  };
  /** How many files are cached (tests: it must not grow with misses). */
  return Object.assign(handler, { cachedFiles: () => cache.size });
}

async function readAsset(root: string, file: string): Promise<Asset | undefined> {
  const full = containedPath(root, file);
  if (full === undefined) return undefined;
  let body: Buffer;
  try {
    body = await readFile(full);
  } catch {
    // Missing, a directory, unreadable: not a file we serve.
    return undefined;
  }
  const extension = extname(file);
  const type = contentTypes[extension] ?? 'application/octet-stream';
  const gzipped = compressible.has(extension) && body.length > 1024 ? gzipSync(body) : undefined;
  return { body, gzipped, type };
}

/** The same 404 the api function answers for an unknown route, kie's envelope. */
function notFound(method: string, path: string, headers: Record<string, string>) {
  return {
    statusCode: 404,
    headers: { ...headers, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: JSON.stringify({ code: 404, msg: `Not found: no route for ${method} ${path}`, data: null }),
  } satisfies APIGatewayProxyStructuredResultV2;
}
