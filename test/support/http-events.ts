import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/** A complete API Gateway HTTP API (payload 2.0) event, as a handler receives it, for unit tests. */
export function httpEvent(
  path: string,
  method = 'GET',
  headers: Record<string, string> = {},
  body?: string,
): APIGatewayProxyEventV2 {
  const routeKey = `${method} ${path}`;
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: '',
    headers,
    requestContext: {
      accountId: 'test',
      apiId: 'test',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'vitest' },
      requestId: 'test-request',
      routeKey,
      stage: '$default',
      time: '30/Nov/2026:08:00:00 +0000',
      timeEpoch: Date.UTC(2026, 10, 30, 8),
    },
    body,
    isBase64Encoded: false,
  };
}
