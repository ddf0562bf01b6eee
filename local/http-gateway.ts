import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyResultV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { traceHeaderOr } from '../functions/adapters/observability/trace-header';
import { createLambdaContext } from './lambda-context';

export type HttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyResultV2>;

export interface HttpRoute {
  /** `METHOD /path` (path segments may be `{name}` or a final `{name+}`, METHOD may be `ANY`) or `$default`. */
  routeKey: string;
  handler: HttpHandler;
  /** Name the handler sees in its Lambda context; defaults to one derived from the route. */
  functionName?: string;
}

export interface HttpGatewayOptions {
  port: number;
  host?: string;
  routes: HttpRoute[];
  /** The Lambda timeout behind `context.getRemainingTimeInMillis()` (API Gateway's own cap is 30 s). */
  timeoutMs?: number;
  /** API Gateway refuses payloads over 10 MB. */
  maxBodyBytes?: number;
  region?: string;
  log?: (message: string, details: Record<string, unknown>) => void;
}

export interface HttpGateway {
  url: string;
  server: Server;
  stop(): Promise<void>;
}

const tenMegabytes = 10 * 1024 * 1024;

/**
 * A stand-in for an API Gateway HTTP API with Lambda proxy integrations (payload format 2.0):
 * each request becomes the event API Gateway would send, and the handler's result becomes the response.
 */
export async function startHttpGateway(options: HttpGatewayOptions): Promise<HttpGateway> {
  const host = options.host ?? '127.0.0.1';
  const settings: GatewaySettings = {
    routes: options.routes.map(compileRoute).sort(byPrecedence),
    timeoutMs: options.timeoutMs ?? 30_000,
    maxBodyBytes: options.maxBodyBytes ?? tenMegabytes,
    region: options.region ?? 'us-east-1',
    log: options.log ?? ((message, details) => console.error(message, details)),
  };
  const server = createServer((request, response) => {
    handleRequest(request, response, settings).catch((error: unknown) => {
      // Only a failure to write the response gets here; the connection is all that is left to close.
      settings.log('http-gateway: could not answer', { error });
      response.destroy();
    });
  });
  await new Promise<void>((listening, failed) => {
    server.once('error', failed);
    server.listen(options.port, host, () => {
      server.off('error', failed);
      listening();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let stopping: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    server,
    stop: () => {
      stopping ??= new Promise<void>((closed) => {
        server.close(() => closed());
        server.closeIdleConnections();
      });
      return stopping;
    },
  };
}

interface GatewaySettings {
  routes: CompiledRoute[];
  timeoutMs: number;
  maxBodyBytes: number;
  region: string;
  log: NonNullable<HttpGatewayOptions['log']>;
}

interface CompiledRoute extends HttpRoute {
  method: string | undefined;
  segments: string[];
  /** 0 literal path, 1 with `{param}`, 2 with a greedy `{param+}`, 3 `$default`. */
  rank: number;
}

function compileRoute(route: HttpRoute): CompiledRoute {
  if (route.routeKey === '$default') return { ...route, method: undefined, segments: [], rank: 3 };
  const match = /^([A-Z]+) (\/\S*)$/.exec(route.routeKey);
  if (match === null)
    throw new Error(`Invalid route key "${route.routeKey}": expected "METHOD /path" or "$default"`);
  const [, method = '', path = ''] = match;
  const segments = path.split('/').slice(1);
  const rank = segments.some((s) => s.endsWith('+}')) ? 2 : segments.some((s) => s.startsWith('{')) ? 1 : 0;
  return { ...route, method, segments, rank };
}

/** API Gateway picks the most specific route: literal paths, then variables, then greedy, then $default. */
function byPrecedence(a: CompiledRoute, b: CompiledRoute): number {
  return (
    a.rank - b.rank ||
    b.segments.length - a.segments.length ||
    Number(a.method === 'ANY') - Number(b.method === 'ANY')
  );
}

function matchRoute(
  routes: CompiledRoute[],
  method: string,
  path: string,
): { route: CompiledRoute; pathParameters: Record<string, string> | undefined } | undefined {
  const segments = path.split('/').slice(1);
  for (const route of routes) {
    if (route.rank === 3) return { route, pathParameters: undefined };
    if (route.method !== method && route.method !== 'ANY') continue;
    const parameters = matchSegments(route.segments, segments);
    if (parameters !== undefined) {
      return { route, pathParameters: Object.keys(parameters).length > 0 ? parameters : undefined };
    }
  }
  return undefined;
}

function matchSegments(pattern: string[], actual: string[]): Record<string, string> | undefined {
  const parameters: Record<string, string> = {};
  for (const [index, part] of pattern.entries()) {
    const value = actual[index];
    if (part.startsWith('{') && part.endsWith('+}')) {
      const rest = actual.slice(index).join('/');
      if (rest === '') return undefined;
      parameters[part.slice(1, -2)] = safeDecode(rest);
      return parameters;
    }
    if (value === undefined) return undefined;
    if (part.startsWith('{') && part.endsWith('}')) {
      if (value === '') return undefined;
      parameters[part.slice(1, -1)] = safeDecode(value);
    } else if (part !== value) {
      return undefined;
    }
  }
  return pattern.length === actual.length ? parameters : undefined;
}

async function handleRequest(
  request: IncomingMessage,
  response: ServerResponse,
  settings: GatewaySettings,
): Promise<void> {
  const method = request.method ?? 'GET';
  const target = request.url ?? '/';
  const queryStart = target.indexOf('?');
  const rawPath = queryStart === -1 ? target : target.slice(0, queryStart);
  const rawQueryString = queryStart === -1 ? '' : target.slice(queryStart + 1);

  const body = await readBody(request, settings.maxBodyBytes);
  if (body === 'aborted') return;
  if (body === 'too-large') {
    // The rest of the upload is not read: close the connection instead of draining it.
    response.setHeader('connection', 'close');
    sendEnvelope(response, 413, 'Request body too large');
    return;
  }

  const matched = matchRoute(settings.routes, method, rawPath);
  if (matched === undefined) {
    sendEnvelope(response, 404, 'Not Found');
    return;
  }

  const event = buildEvent({
    request,
    method,
    rawPath,
    rawQueryString,
    body,
    routeKey: matched.route.routeKey,
    pathParameters: matched.pathParameters,
  });
  const context = createLambdaContext({
    functionName: matched.route.functionName ?? functionNameFor(matched.route.routeKey),
    timeoutMs: settings.timeoutMs,
    region: settings.region,
  });
  let result: APIGatewayProxyResultV2;
  try {
    result = await matched.route.handler(event, context);
  } catch (error) {
    settings.log('http-gateway: handler failed', {
      routeKey: event.routeKey,
      requestId: event.requestContext.requestId,
      error,
    });
    sendEnvelope(response, 500, 'Internal server error');
    return;
  }
  writeResult(response, result);
}

/**
 * Reads the whole body, or reports it too large as soon as it passes the limit. The stream keeps
 * flowing (and the excess is dropped) so that the 413 can still be written on the same socket.
 */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'aborted'> {
  return new Promise((settle) => {
    if (Number(request.headers['content-length'] ?? 0) > limit) {
      request.resume();
      settle('too-large');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        settle('too-large');
      } else {
        chunks.push(chunk);
      }
    });
    request.on('end', () => settle(size > limit ? 'too-large' : Buffer.concat(chunks)));
    // A client that hangs up mid-upload gets no answer; settling twice is a no-op.
    request.on('close', () => settle('aborted'));
  });
}

function buildEvent(input: {
  request: IncomingMessage;
  method: string;
  rawPath: string;
  rawQueryString: string;
  body: Buffer;
  routeKey: string;
  pathParameters: Record<string, string> | undefined;
}): APIGatewayProxyEventV2 {
  const { request, method, rawPath, rawQueryString, body, routeKey, pathParameters } = input;
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [name, values] of Object.entries(request.headersDistinct)) {
    if (values === undefined) continue;
    // Payload 2.0 moves cookies to their own field and drops the header.
    if (name === 'cookie') {
      cookies = values.flatMap((value) => value.split(';').map((cookie) => cookie.trim())).filter(Boolean);
    } else {
      headers[name] = values.join(',');
    }
  }

  const queryStringParameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    const previous = queryStringParameters[name];
    queryStringParameters[name] = previous === undefined ? value : `${previous},${value}`;
  }

  const now = new Date();
  // API Gateway begins a trace for a request that brings none; the functions continue it (one per task).
  headers['x-amzn-trace-id'] = traceHeaderOr(headers['x-amzn-trace-id']);
  const domainName = headers.host ?? 'localhost';
  const textual = isTextual(headers['content-type']);
  return {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString,
    ...(cookies === undefined || cookies.length === 0 ? {} : { cookies }),
    headers,
    ...(rawQueryString === '' ? {} : { queryStringParameters }),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method,
        path: rawPath,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: (request.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: apiGatewayTime(now),
      timeEpoch: now.getTime(),
    },
    ...(pathParameters === undefined ? {} : { pathParameters }),
    // API Gateway leaves `body` out when there is none.
    ...(body.length === 0 ? {} : { body: body.toString(textual ? 'utf8' : 'base64') }),
    isBase64Encoded: body.length > 0 && !textual,
  };
}

/** Media types API Gateway passes as text; every other body reaches the handler base64-encoded. */
function isTextual(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return (
    type.startsWith('text/') ||
    /^application\/(.+\+)?(json|xml)$/.test(type) ||
    type === 'application/javascript' ||
    type === 'application/x-www-form-urlencoded' ||
    type === 'application/graphql'
  );
}

function writeResult(response: ServerResponse, result: APIGatewayProxyResultV2): void {
  // As API Gateway infers: anything but an object with a statusCode is a 200 JSON body.
  if (typeof result !== 'object' || result === null || !('statusCode' in result)) {
    const body = typeof result === 'string' ? result : JSON.stringify(result ?? null);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(body);
    return;
  }
  const structured = result as APIGatewayProxyStructuredResultV2;
  for (const [name, value] of Object.entries(structured.headers ?? {})) {
    response.setHeader(name, String(value));
  }
  if (structured.cookies !== undefined && structured.cookies.length > 0) {
    response.setHeader('set-cookie', structured.cookies);
  }
  response.statusCode = structured.statusCode ?? 200;
  const body = structured.body ?? '';
  response.end(structured.isBase64Encoded === true ? Buffer.from(body, 'base64') : body);
}

/**
 * The answer while the stack is still starting (the gateway listens before the handlers are imported,
 * since kie.ai's pushes need its address). kie's 455 means "unavailable for now, try again later"; the HTTP
 * status is 503 with a Retry-After, so that any HTTP client retries it. This is the one place the gateway
 * answers with a status other than its code: every handler answer keeps status == code.
 */
export function startingResponse(): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: 503,
    headers: { 'content-type': 'application/json', 'retry-after': '1' },
    body: JSON.stringify({ code: 455, msg: 'The local stack is starting; retry in a moment', data: null }),
  };
}

function sendEnvelope(response: ServerResponse, code: number, msg: string): void {
  response.writeHead(code, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ code, msg, data: null }));
}

function functionNameFor(routeKey: string): string {
  if (routeKey === '$default') return 'api';
  return routeKey.split(' ')[1]?.split('/').filter(Boolean).at(-1) ?? 'api';
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** API Gateway's `requestContext.time` format, e.g. `12/Mar/2020:19:03:58 +0000`. */
function apiGatewayTime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}
