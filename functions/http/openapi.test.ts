import { describe, expect, it } from 'vitest';
import { PROMPT_MAX_CHARS } from '../core/schema';
import { publicRoutes, routes } from './api-routes';
import { buildOpenApiDocument, EXAMPLE_TASK_ID, errorCodes, openApiJson, operations } from './openapi';

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
    expect(schema.properties.model).toMatchObject({ enum: ['veo3', 'veo3_fast', 'veo3_lite'] });
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

describe('OpenAPI examples', () => {
  type Documented = {
    parameters?: { name: string; required: boolean; example?: string }[];
    requestBody?: { content: { 'application/json': { example?: unknown } } };
  };
  const policies = [
    { allowLoopback: false, allowHttp: false },
    { allowLoopback: true, allowHttp: true },
  ];

  it.each(policies)('gives every body and parameter an example its zod schema accepts (%o)', (urlPolicy) => {
    const document = buildOpenApiDocument(urlPolicy);
    const ops = operations(urlPolicy);
    expect(ops.length).toBeGreaterThanOrEqual(9);
    for (const op of ops) {
      const documented = (document.paths[op.path] as Record<string, Documented>)[op.method];
      const name = `${op.method} ${op.path}`;
      if (op.body) {
        const example = documented?.requestBody?.content['application/json'].example;
        expect(example, name).toBeDefined();
        const parsed = op.body.safeParse(example);
        expect(parsed.error?.issues, name).toBeUndefined();
      }
      if (op.query) {
        const parameters = documented?.parameters ?? [];
        expect(parameters.length, name).toBeGreaterThan(0);
        // An optional parameter may go without one: `cursor` is valid only as a nextCursor answered.
        for (const p of parameters.filter((p) => p.required || p.name !== 'cursor')) {
          expect(p.example, `${name} ${p.name}`).toEqual(expect.any(String));
        }
        const query = Object.fromEntries(
          parameters.filter((p) => p.example !== undefined).map((p) => [p.name, p.example]),
        );
        const parsed = op.query.safeParse(query);
        expect(parsed.error?.issues, name).toBeUndefined();
      }
    }
  });

  it('says which task an example taskId must be replaced with', () => {
    const record = operation('GET', '/api/v1/veo/get-1080p-video')?.parameters?.[0] as {
      description?: string;
      example?: string;
    };
    expect(record).toMatchObject({ example: EXAMPLE_TASK_ID });
    expect(record.description).toContain('a finished 16:9 task');
    const cancel = (doc.paths['/api/v1/veo/cancel'] as Record<string, { description?: string }>).post;
    expect(cancel?.description).toContain('a queued task');
  });

  it('would catch an example the schema refuses (the check above can fail)', () => {
    const generate = operations(policy).find((op) => op.path === '/api/v1/veo/generate');
    // The example Swagger UI generated from the JSON Schema alone: images with TEXT_2_VIDEO.
    const generated = {
      prompt: 'string',
      imageUrls: ['string'],
      generationType: 'TEXT_2_VIDEO',
      enableFallback: 'string',
    };
    expect(generate?.body?.safeParse(generated).success).toBe(false);
  });
});
