import { describe, expect, it, vi } from 'vitest';
import { schemasBuilt } from '../../../test/support/schemas-built';
import { createProvider } from './index';

describe('createProvider', () => {
  it('builds each provider from flat settings, named for the quota scope', () => {
    expect(createProvider({ provider: 'simulator', baseUrl: 'http://127.0.0.1:1' }).name).toBe('simulator');
    expect(createProvider({ provider: 'gemini', apiKey: 'k' }).name).toBe('gemini');
    expect(createProvider({ provider: 'vertex', serviceAccountKey: '{}', region: 'us-central1' }).name).toBe(
      'vertex',
    );
    const kie = createProvider({ provider: 'kie', apiKey: async () => 'k', webhookSecret: 's' });
    expect(kie.name).toBe('kie');
    expect(kie.verifyPush).toBeTypeOf('function');
  });

  it('names the missing setting at cold start', () => {
    expect(() => createProvider({ provider: 'gemini' })).toThrow('provider gemini needs apiKey');
    expect(() => createProvider({ provider: 'vertex', serviceAccountKey: '{}' })).toThrow('needs region');
    expect(() => createProvider({ provider: 'kie', apiKey: '' })).toThrow('needs apiKey');
    expect(() => createProvider({ provider: 'simulator' })).toThrow('needs baseUrl');
  });
});

describe('the providers’ modules', () => {
  it('build their response schemas on first parse, not at import: a worker loads every provider and uses one', async () => {
    vi.resetModules();
    // One z.lazy per schema the modules declare; built at import, their schemas were 111.
    const atImport = await schemasBuilt(() =>
      Promise.all([import('./vertex-provider'), import('./gemini-provider'), import('./kie-provider')]),
    );
    expect(atImport).toBeGreaterThan(0);
    expect(atImport).toBeLessThan(20);
  });
});
