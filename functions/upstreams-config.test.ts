import { describe, expect, it } from 'vitest';
import { upstreamProviders } from './composition/provider';
import { settingsFrom } from './composition/settings';
import { loadConfig } from './config';
import { poolOf } from './core/pool';

const base = {
  TASKS_TABLE: 't',
  API_KEYS_TABLE: 'k',
  COUNTERS_TABLE: 'c',
  VIDEO_BUCKET: 'v',
  GENERATE_QUEUE_URL: 'https://sqs.invalid/g',
  POLL_QUEUE_URL: 'https://sqs.invalid/p',
  NOTIFY_QUEUE_URL: 'https://sqs.invalid/n',
};

describe('UPSTREAMS', () => {
  it('becomes the pool: quotas scoped by each name, published ones by default, every model unless told', () => {
    const config = loadConfig({
      ...base,
      UPSTREAMS: JSON.stringify([
        { name: 'kie-a', provider: 'kie', secret: { apiKey: 'k1', webhookSecret: 'w1' } },
        {
          name: 'kie-b',
          provider: 'kie',
          priority: 1,
          quota: { limit: 5, windowSeconds: 10 },
          serves: ['veo3'],
        },
      ]),
    });
    expect(poolOf(settingsFrom(config))).toEqual([
      {
        name: 'kie-a',
        provider: 'kie',
        quota: { scope: 'kie-a', limit: 20, windowMs: 10_000 },
        priority: 0,
        serves: ['veo3', 'veo3_fast', 'veo3_lite'],
      },
      {
        name: 'kie-b',
        provider: 'kie',
        quota: { scope: 'kie-b', limit: 5, windowMs: 10_000 },
        priority: 1,
        serves: ['veo3'],
      },
    ]);
  });

  it('absent, is one upstream named after PROVIDER with its quota, as before the pool', () => {
    const config = loadConfig({ ...base, PROVIDER: 'kie', KIE_API_KEY: 'k' });
    expect(poolOf(settingsFrom(config))).toEqual([
      {
        name: 'kie',
        provider: 'kie',
        quota: { scope: 'kie', limit: 20, windowMs: 10_000 },
        priority: 0,
        serves: ['veo3', 'veo3_fast', 'veo3_lite'],
      },
    ]);
  });

  it.each([
    ['not JSON', 'UPSTREAMS: must be a JSON array of upstreams'],
    [JSON.stringify([{ name: 'A B', provider: 'kie' }]), 'UPSTREAMS.0.name'],
    [JSON.stringify([{ name: 'a', provider: 'openai' }]), 'UPSTREAMS.0.provider'],
    [
      JSON.stringify([
        { name: 'a', provider: 'kie' },
        { name: 'a', provider: 'kie' },
      ]),
      'UPSTREAMS.1.name: "a" is used twice',
    ],
    [
      JSON.stringify([{ name: 'a', provider: 'kie', quota: { limit: 0, windowSeconds: 1 } }]),
      'UPSTREAMS.0.quota.limit',
    ],
    [JSON.stringify([{ name: 'a', provider: 'kie', colour: 'red' }]), 'colour'],
    [JSON.stringify([]), 'UPSTREAMS'],
  ])('refuses %s at cold start, naming the field', (value, named) => {
    expect(() => loadConfig({ ...base, UPSTREAMS: value })).toThrow(named);
  });

  it('gives each upstream its own provider, and a missing setting names the upstream at cold start', () => {
    const config = loadConfig({
      ...base,
      UPSTREAMS: JSON.stringify([
        { name: 'gem', provider: 'gemini', secret: { apiKey: 'g' }, priority: 2 },
        {
          name: 'kie-a',
          provider: 'kie',
          secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:kie-a',
        },
      ]),
    });
    const built = upstreamProviders(config, settingsFrom(config));
    expect(Object.keys(built.upstreamProviders)).toEqual(['gem', 'kie-a']);
    expect(built.upstreamProviders.gem?.name).toBe('gemini');
    // The first by priority serves what names no upstream.
    expect(built.provider).toBe(built.upstreamProviders['kie-a']);

    const missing = loadConfig({ ...base, UPSTREAMS: JSON.stringify([{ name: 'vx', provider: 'vertex' }]) });
    expect(() => upstreamProviders(missing, settingsFrom(missing))).toThrow(
      'UPSTREAMS vx: provider vertex needs',
    );
  });
});
