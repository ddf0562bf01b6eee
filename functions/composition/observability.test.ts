import { afterEach, describe, expect, it, vi } from 'vitest';

/** cls-hooked keeps its namespaces on `process`, where the X-Ray SDK registers its context. */
const xrayNamespace = () => (process as { namespaces?: Record<string, unknown> }).namespaces?.AWSXRay;

/** observability.ts afresh, as a cold start in the environment stubbed before it loads. */
async function coldStart() {
  vi.resetModules();
  return import('./observability');
}

describe('tracing', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('is off outside Lambda, where the X-Ray SDK is never loaded', async () => {
    vi.stubEnv('AWS_EXECUTION_ENV', undefined);
    const { tracer, tracingOn } = await coldStart();
    expect(tracingOn()).toBe(false);
    expect(tracer).toBeUndefined();
    expect(xrayNamespace()).toBeUndefined();
  });

  it('is off in Lambda when the deployment turned it off, and loads nothing of X-Ray', async () => {
    vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs22.x');
    vi.stubEnv('POWERTOOLS_TRACE_ENABLED', 'false');
    const { tracer } = await coldStart();
    expect(tracer).toBeUndefined();
    expect(xrayNamespace()).toBeUndefined();
  });

  it('traces in Lambda by default, with one Tracer that records', async () => {
    vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs22.x');
    vi.stubEnv('POWERTOOLS_TRACE_ENABLED', undefined);
    const { tracer, tracingOn } = await coldStart();
    expect(tracingOn()).toBe(true);
    expect(tracer?.isTracingEnabled()).toBe(true);
  });

  it('reads the setting as Powertools does, in any case', async () => {
    const { tracingOn } = await coldStart();
    const lambda = { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' };
    expect(tracingOn({ ...lambda, POWERTOOLS_TRACE_ENABLED: 'FALSE' })).toBe(false);
    expect(tracingOn({ ...lambda, POWERTOOLS_TRACE_ENABLED: 'true' })).toBe(true);
    expect(tracingOn({ POWERTOOLS_TRACE_ENABLED: 'true' })).toBe(false);
  });
});
