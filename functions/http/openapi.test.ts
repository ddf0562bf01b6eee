import { describe, expect, it } from 'vitest';
import { PROMPT_MAX_CHARS } from '../core/schema';
import { publicRoutes, routes } from './api-routes';
import { buildOpenApiDocument, errorCodes, openApiJson } from './openapi';

const policy = { allowLoopback: false, allowHttp: true };
const doc = buildOpenApiDocument(policy);
type Op = {
  security?: unknown[];
  parameters?: { name: string; required: boolean }[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
};
const operation = (method: string, path: string) =>
  (doc.paths[path] as Record<string, Op> | undefined)?.[method.toLowerCase()];

describe('OpenAPI document', () => {
  it('documents every route of the API, so a new route without docs fails here', () => {
    const served = [...Object.keys(routes), ...Object.keys(publicRoutes)];
    expect(served.length).toBeGreaterThanOrEqual(9);
    for (const route of served) {
      const [method = '', path = ''] = route.split(' ');
      expect(operation(method, path), route).toBeDefined();
    }
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(served.sort());
  });

  it('derives the generate body from the zod schema: prompt required, bounded in code points', () => {
    const schema = operation('POST', '/api/v1/veo/generate')?.requestBody?.content['application/json']
      ?.schema as { required: string[]; properties: Record<string, Record<string, unknown>> };
    expect(schema.required).toEqual(['prompt']);
    expect(schema.properties.prompt).toMatchObject({
      type: 'string',
      minLength: 1,
      maxLength: PROMPT_MAX_CHARS,
    });
    expect(schema.properties.model).toMatchObject({ enum: ['veo3', 'veo3_fast'] });
    expect(schema.properties.seeds).toMatchObject({ type: 'integer', minimum: 10000, maximum: 99999 });
    expect(schema.properties.callBackUrl).toMatchObject({ type: 'string', format: 'uri' });
  });

  it('has the bearer scheme, the envelope, the error codes, and public docs', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.components.schemas.Envelope.required).toEqual(['code', 'msg', 'data']);
    for (const code of [401, 402, 404, 422, 429, 455, 500, 501, 505]) {
      expect(errorCodes[code], String(code)).toBeDefined();
      expect(doc.components.responses[`E${code}`], String(code)).toBeDefined();
    }
    expect(operation('GET', '/api/v1/openapi.json')?.security).toEqual([]);
  });

  it('marks query parameters with defaults optional', () => {
    const params = operation('GET', '/api/v1/veo/tasks')?.parameters ?? [];
    expect(params.map((p) => [p.name, p.required])).toEqual([
      ['limit', false],
      ['cursor', false],
    ]);
    const hd = operation('GET', '/api/v1/veo/get-1080p-video')?.parameters ?? [];
    expect(hd.map((p) => [p.name, p.required])).toEqual([
      ['taskId', true],
      ['index', false],
    ]);
  });

  it('is built once per policy', () => {
    expect(openApiJson(policy)).toBe(openApiJson(policy));
    expect(JSON.parse(openApiJson(policy))).toEqual(JSON.parse(JSON.stringify(doc)));
  });
});
