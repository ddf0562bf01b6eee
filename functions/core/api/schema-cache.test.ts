import { expect, it } from 'vitest';
import { generateRequestSchema } from '../schema';
import { cachedSchema } from './schema-cache';

it('builds a schema once per URL policy, and each policy keeps its own rules', () => {
  let builds = 0;
  const schema = cachedSchema((policy: Parameters<typeof generateRequestSchema>[0]) => {
    builds++;
    return generateRequestSchema(policy);
  });
  const strict = { allowLoopback: false, allowHttp: false };
  const local = { allowLoopback: true, allowHttp: true };
  expect(schema(strict)).toBe(schema(strict));
  expect(builds).toBe(1);
  const body = { prompt: 'a boat', callBackUrl: 'http://127.0.0.1:9/cb' };
  expect(schema(strict).safeParse(body).success).toBe(false);
  expect(schema(local).safeParse(body).success).toBe(true);
  expect(builds).toBe(2);
});
