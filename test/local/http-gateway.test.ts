import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpGateway, startHttpGateway, startingResponse } from '../../local/http-gateway';

interface Call {
  event: APIGatewayProxyEventV2;
  context: Context;
  remainingMs: number;
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** node:http rather than fetch: it can send repeated headers and shows repeated set-cookie lines. */
function send(
  url: string,
  options: { method?: string; path: string; headers?: OutgoingHttpHeaders; body?: Buffer | string },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${options.path}`, {
      method: options.method ?? 'GET',
      headers: options.headers,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.end(options.body);
  });
}

describe('http gateway', () => {
  const calls: Call[] = [];
  const logged: { message: string; details: Record<string, unknown> }[] = [];
  const binary = Buffer.from([0, 255, 1, 2, 128, 10, 13]);
  let gateway: HttpGateway;

  const record = (event: APIGatewayProxyEventV2, context: Context) => {
    calls.push({ event, context, remainingMs: context.getRemainingTimeInMillis() });
  };
  const lastCall = (): Call => {
    const call = calls.at(-1);
    if (call === undefined) throw new Error('the handler was not called');
    return call;
  };

  beforeAll(async () => {
    gateway = await startHttpGateway({
      port: 0,
      timeoutMs: 5_000,
      maxBodyBytes: 1_024,
      log: (message, details) => logged.push({ message, details }),
      routes: [
        {
          routeKey: '$default',
          handler: async (event, context): Promise<APIGatewayProxyResultV2> => {
            record(event, context);
            if (event.rawPath === '/string') return 'plain string result';
            if (event.rawPath === '/binary-out') {
              return {
                statusCode: 201,
                headers: { 'content-type': 'image/png', 'x-count': 5 },
                cookies: ['session=abc; HttpOnly', 'theme=dark'],
                body: binary.toString('base64'),
                isBase64Encoded: true,
              };
            }
            return {
              statusCode: 200,
              headers: { 'content-type': 'application/json' },
              body: '{"route":"default"}',
            };
          },
        },
        {
          routeKey: 'POST /internal/upstream-callback',
          functionName: 'upstream-callback',
          handler: async (event, context) => {
            record(event, context);
            return { statusCode: 202, headers: { 'x-route': 'callback' }, body: 'accepted' };
          },
        },
        {
          routeKey: 'GET /items/{id}',
          handler: async (event, context) => {
            record(event, context);
            return { statusCode: 200, body: 'item' };
          },
        },
        {
          routeKey: 'GET /files/{path+}',
          handler: async (event, context) => {
            record(event, context);
            return { statusCode: 200, body: 'file' };
          },
        },
        {
          routeKey: 'GET /boom',
          handler: async () => {
            throw new Error('kaboom');
          },
        },
      ],
    });
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  it('turns a GET into a payload 2.0 event', async () => {
    const before = Date.now();
    const response = await send(gateway.url, {
      path: '/api/v1/veo/record-info?taskId=abc_1&x=1&x=2&q=a%20b',
      headers: {
        'X-Custom': 'Value',
        'X-Multi': ['one', 'two'],
        Cookie: 'a=1; b=2',
        'User-Agent': 'vitest-agent',
        Authorization: 'Bearer key',
      },
    });

    expect(response.status).toBe(200);
    expect(JSON.parse(response.body.toString())).toEqual({ route: 'default' });
    const { event, context, remainingMs } = lastCall();
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/api/v1/veo/record-info',
      rawQueryString: 'taskId=abc_1&x=1&x=2&q=a%20b',
      queryStringParameters: { taskId: 'abc_1', x: '1,2', q: 'a b' },
      cookies: ['a=1', 'b=2'],
      isBase64Encoded: false,
    });
    expect(event.headers).toMatchObject({
      'x-custom': 'Value',
      'x-multi': 'one,two',
      authorization: 'Bearer key',
      'user-agent': 'vitest-agent',
    });
    expect(event.headers).not.toHaveProperty('cookie');
    expect(event.body).toBeUndefined();
    expect(event.pathParameters).toBeUndefined();
    const host = new URL(gateway.url).host;
    expect(event.requestContext).toMatchObject({
      accountId: 'local',
      apiId: 'local',
      domainName: host,
      http: {
        method: 'GET',
        path: '/api/v1/veo/record-info',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'vitest-agent',
      },
      routeKey: '$default',
      stage: '$default',
    });
    expect(event.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(event.requestContext.timeEpoch).toBeGreaterThanOrEqual(before);
    expect(event.requestContext.timeEpoch).toBeLessThanOrEqual(Date.now());
    expect(context.functionName).toBe('api');
    expect(context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(remainingMs).toBeGreaterThan(4_000);
    expect(remainingMs).toBeLessThanOrEqual(5_000);
  });

  it('passes textual bodies as text and binary bodies as base64', async () => {
    const json = '{"prompt":"a cat on a skateboard","model":"veo3_fast"}';
    await send(gateway.url, {
      method: 'POST',
      path: '/api/v1/veo/generate',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: json,
    });
    expect(lastCall().event).toMatchObject({ body: json, isBase64Encoded: false });
    expect(lastCall().event.requestContext.http.method).toBe('POST');

    await send(gateway.url, {
      method: 'POST',
      path: '/upload',
      headers: { 'content-type': 'application/octet-stream' },
      body: binary,
    });
    const { event } = lastCall();
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body ?? '', 'base64')).toEqual(binary);
  });

  it('matches exact METHOD /path routes before $default and fills path parameters', async () => {
    const callback = await send(gateway.url, {
      method: 'POST',
      path: '/internal/upstream-callback',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(callback.status).toBe(202);
    expect(callback.headers['x-route']).toBe('callback');
    expect(callback.body.toString()).toBe('accepted');
    expect(lastCall().event.routeKey).toBe('POST /internal/upstream-callback');
    expect(lastCall().context.functionName).toBe('upstream-callback');

    // Same path, other method: not the callback route.
    await send(gateway.url, { path: '/internal/upstream-callback' });
    expect(lastCall().event.routeKey).toBe('$default');

    await send(gateway.url, { path: '/items/abc%20d' });
    expect(lastCall().event).toMatchObject({ routeKey: 'GET /items/{id}', pathParameters: { id: 'abc d' } });

    await send(gateway.url, { path: '/items/abc/extra' });
    expect(lastCall().event.routeKey).toBe('$default');

    await send(gateway.url, { path: '/files/a/b/c.mp4' });
    expect(lastCall().event).toMatchObject({
      routeKey: 'GET /files/{path+}',
      pathParameters: { path: 'a/b/c.mp4' },
    });
  });

  it('maps a structured result back: status, headers, cookies, base64 body', async () => {
    const response = await send(gateway.url, { path: '/binary-out' });
    expect(response.status).toBe(201);
    expect(response.headers['content-type']).toBe('image/png');
    expect(response.headers['x-count']).toBe('5');
    expect(response.headers['set-cookie']).toEqual(['session=abc; HttpOnly', 'theme=dark']);
    expect(response.body).toEqual(binary);
  });

  it('answers a string result as 200 application/json, as API Gateway infers', async () => {
    const response = await send(gateway.url, { path: '/string' });
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.body.toString()).toBe('plain string result');
  });

  it('answers 500 with the envelope and logs when the handler throws', async () => {
    const response = await send(gateway.url, { path: '/boom' });
    expect(response.status).toBe(500);
    expect(JSON.parse(response.body.toString())).toEqual({
      code: 500,
      msg: 'Internal server error',
      data: null,
    });
    const entry = logged.find((line) => line.message.includes('handler failed'));
    expect((entry?.details.error as Error | undefined)?.message).toBe('kaboom');

    // The gateway is still serving.
    expect((await send(gateway.url, { path: '/string' })).status).toBe(200);
  });

  it('refuses bodies over the limit with 413, declared or streamed', async () => {
    const callsBefore = calls.length;
    const declared = await send(gateway.url, {
      method: 'POST',
      path: '/api/v1/veo/generate',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(2_000),
    });
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body.toString())).toEqual({
      code: 413,
      msg: 'Request body too large',
      data: null,
    });

    const streamed = await send(gateway.url, {
      method: 'POST',
      path: '/api/v1/veo/generate',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      body: 'y'.repeat(2_000),
    });
    expect(streamed.status).toBe(413);
    expect(calls.length).toBe(callsBefore);

    const within = await send(gateway.url, {
      method: 'POST',
      path: '/api/v1/veo/generate',
      headers: { 'content-type': 'application/json' },
      body: 'z'.repeat(1_024),
    });
    expect(within.status).toBe(200);
  });

  it('answers 404 with the envelope when no route matches and there is no $default', async () => {
    const bare = await startHttpGateway({
      port: 0,
      routes: [{ routeKey: 'GET /only', handler: async () => ({ statusCode: 204 }) }],
    });
    try {
      const missing = await send(bare.url, { path: '/elsewhere' });
      expect(missing.status).toBe(404);
      expect(JSON.parse(missing.body.toString())).toEqual({ code: 404, msg: 'Not Found', data: null });
      expect((await send(bare.url, { path: '/only' })).status).toBe(204);
    } finally {
      await bare.stop();
    }
  });

  it('answers a request that arrives while the stack starts with 503, Retry-After and kie code 455', async () => {
    const starting = await startHttpGateway({
      port: 0,
      routes: [{ routeKey: '$default', handler: async () => startingResponse() }],
    });
    try {
      const early = await send(starting.url, { path: '/api/v1/veo/record-info' });
      expect(early.status).toBe(503);
      expect(early.headers['retry-after']).toBe('1');
      expect(JSON.parse(early.body.toString())).toMatchObject({ code: 455, data: null });
    } finally {
      await starting.stop();
    }
  });

  it('rejects a malformed route key at start-up', async () => {
    await expect(
      startHttpGateway({ port: 0, routes: [{ routeKey: 'post /lowercase', handler: async () => '' }] }),
    ).rejects.toThrow(/Invalid route key/);
  });
});
