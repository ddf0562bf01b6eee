import { describe, expect, it } from 'vitest';
import { capabilityTable, upstreamShapes } from '../core/capabilities';
import { checkCapabilities } from '../core/capability-check';
import { PROMPT_MAX_CHARS } from '../core/schema';
import { publicRoutes, routes } from './api-routes';
import {
  buildOpenApiDocument,
  capabilitiesJson,
  EXAMPLE_TASK_ID,
  errorCodes,
  openApiJson,
  operations,
} from './openapi';

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
    requestBody?: {
      content: { 'application/json': { examples?: Record<string, { summary: string; value: unknown }> } };
    };
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
        const examples = Object.entries(documented?.requestBody?.content['application/json'].examples ?? {});
        expect(examples.length, name).toBeGreaterThan(0);
        for (const [exampleName, example] of examples) {
          expect(example.summary, `${name} ${exampleName}`).toEqual(expect.any(String));
          const parsed = op.body.safeParse(example.value);
          expect(parsed.error?.issues, `${name} ${exampleName}`).toBeUndefined();
        }
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

describe('OpenAPI examples per upstream (core/capabilities.ts)', () => {
  type Examples = Record<string, { value: Record<string, unknown> }>;
  const examplesOf = (upstream: string | undefined, path: string): Examples =>
    (
      buildOpenApiDocument(policy, upstream).paths[path] as Record<
        string,
        { requestBody: { content: { 'application/json': { examples: Examples } } } }
      >
    ).post?.requestBody.content['application/json'].examples ?? {};

  it.each(upstreamShapes)(
    'lists only the bodies %s honours, each judged by the capability table',
    (upstream) => {
      const all = examplesOf(undefined, '/api/v1/veo/generate');
      const shown = examplesOf(upstream, '/api/v1/veo/generate');
      expect(Object.keys(shown)).toContain('classic');
      const refused = Object.keys(all).filter((name) => !(name in shown));
      for (const name of refused) {
        const body = all[name]?.value ?? {};
        // Refused by the table, not by accident: the body names a field the table refuses on this upstream.
        const check = checkCapabilities(
          {
            model: body.model as 'veo3',
            mode: 'TEXT_2_VIDEO',
            aspectRatio: (body.aspect_ratio ?? body.aspectRatio ?? '16:9') as '16:9',
            resolution: body.resolution as '720p',
            durationSeconds: (body.duration ?? body.durationSeconds) as number,
            generateAudio: body.generateAudio as boolean,
            negativePrompt: body.negativePrompt as string,
            personGeneration: body.personGeneration as 'allow_all',
            sampleCount: body.sampleCount as number,
          },
          upstream,
        );
        expect(check.ok, `${upstream} ${name}`).toBe(false);
      }
      expect(Object.keys(examplesOf(upstream, '/api/v1/veo/extend'))).toContain('classic');
    },
  );

  it('together the examples use every Veo 3.1 field of issue 15, and veo3_lite', () => {
    const bodies = Object.values(examplesOf(undefined, '/api/v1/veo/generate')).map((e) => e.value);
    const fields = new Set(bodies.flatMap((body) => Object.keys(body)));
    for (const field of [
      'aspect_ratio',
      'resolution',
      'duration',
      'durationSeconds',
      'generateAudio',
      'negativePrompt',
      'personGeneration',
      'sampleCount',
      'seeds',
    ]) {
      expect(fields, field).toContain(field);
    }
    expect(bodies.map((body) => body.model)).toContain('veo3_lite');
    // A kie deployment refuses negativePrompt: its document does not offer it.
    const kie = Object.values(examplesOf('kie', '/api/v1/veo/generate')).map((e) => e.value);
    expect(kie.some((body) => 'negativePrompt' in body)).toBe(false);
  });

  it("shows record-info's answer as the record builder makes it: notApplied, native and upscaled files", () => {
    const ok = (
      doc.paths['/api/v1/veo/record-info'] as Record<
        string,
        {
          responses: {
            200: { content: { 'application/json': { example: { data: Record<string, unknown> } } } };
          };
        }
      >
    ).get?.responses[200].content['application/json'].example;
    expect(ok?.data).toMatchObject({
      successFlag: 1,
      notApplied: ['seeds'],
      resolution: '4k',
      duration: 8,
      response: { videos: [{ resolution: '4k', made: 'native' }] },
      renditions: [{ resolution: '1080p', made: 'upscaled' }],
    });
  });

  it("serves the upstream's capabilities as data", () => {
    const served = JSON.parse(capabilitiesJson('vertex')) as { upstream: string; options: unknown };
    expect(served).toMatchObject({ upstream: 'vertex', options: capabilityTable.vertex.options });
    expect(JSON.parse(capabilitiesJson('fake'))).toEqual({
      upstream: 'fake',
      models: null,
      options: null,
      rules: null,
    });
  });
});
