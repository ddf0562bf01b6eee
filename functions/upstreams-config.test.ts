import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { schemasBuilt } from '../test/support/schemas-built';
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
  RESERVED_QUEUE_URL: 'https://sqs.invalid/r',
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
    [
      JSON.stringify([{ name: 'vx', provider: 'vertex', pushAccount: 'push@p.iam.gserviceaccount.com' }]),
      'UPSTREAMS.0.pushAccount: is Vertex AI',
    ],
    [
      JSON.stringify([
        { name: 'k', provider: 'kie', storageUri: 'gs://b', pushAccount: 'push@p.iam.gserviceaccount.com' },
      ]),
      'it needs provider vertex and storageUri',
    ],
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

describe("Gemini API webhooks (GEMINI_WEBHOOKS, an upstream entry's `webhooks`)", () => {
  /** A Gemini-shaped submit endpoint that records each body, so what each upstream asks for shows. */
  const bodies: Record<string, unknown>[] = [];
  let url = '';
  let server: Server;
  beforeAll(async () => {
    server = createServer((req, res) => {
      void buffer(req).then((body) => {
        bodies.push(JSON.parse(body.toString('utf8')) as Record<string, unknown>);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"models/m/operations/1"}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  async function asksForWebhook(environment: Record<string, string>, upstream: string): Promise<boolean> {
    const config = loadConfig({ ...base, UPSTREAM_CALLBACK_URL: 'https://api.test/cb', ...environment });
    const settings = settingsFrom(config);
    const provider = upstreamProviders(config, settings).upstreamProviders[upstream];
    await provider?.submit({
      taskId: 'veo_t',
      prompt: 'p',
      model: 'veo3',
      generationType: 'TEXT_2_VIDEO',
      aspectRatio: '16:9',
      seed: 1,
      imageUrls: [],
      images: [],
      pushUrl: 'https://api.test/cb?taskId=veo_t',
    });
    return 'webhookConfig' in (bodies.at(-1) ?? {});
  }

  it('are asked for by gemini upstreams by default, not by the simulator, and either way when told', async () => {
    const gemini = { name: 'gem', provider: 'gemini', baseUrl: url, secret: { apiKey: 'g' } };
    const simulator = { name: 'sim', provider: 'simulator', baseUrl: url };
    const pool = (...entries: object[]) => ({ UPSTREAMS: JSON.stringify(entries) });
    expect(
      await asksForWebhook({ PROVIDER: 'gemini', PROVIDER_BASE_URL: url, GEMINI_API_KEY: 'g' }, 'gemini'),
    ).toBe(true);
    expect(await asksForWebhook({ PROVIDER: 'simulator', PROVIDER_BASE_URL: url }, 'simulator')).toBe(false);
    expect(
      await asksForWebhook(
        { PROVIDER: 'simulator', PROVIDER_BASE_URL: url, GEMINI_WEBHOOKS: 'true' },
        'simulator',
      ),
    ).toBe(true);
    expect(await asksForWebhook(pool(gemini, simulator), 'gem')).toBe(true);
    expect(await asksForWebhook(pool(gemini, simulator), 'sim')).toBe(false);
    expect(await asksForWebhook({ ...pool(gemini), GEMINI_WEBHOOKS: 'false' }, 'gem')).toBe(false);
    expect(await asksForWebhook({ ...pool({ ...gemini, webhooks: false }) }, 'gem')).toBe(false);
    expect(await asksForWebhook({ ...pool({ ...simulator, webhooks: true }) }, 'sim')).toBe(true);
  });
});

describe("Vertex AI's push (VERTEX_PUSH_ACCOUNT, an upstream entry's `pushAccount`)", () => {
  const key = JSON.stringify({
    client_email: 'sa@p.iam.gserviceaccount.com',
    private_key: 'k',
    project_id: 'p',
  });
  const vertex = {
    PROVIDER: 'vertex',
    VERTEX_SERVICE_ACCOUNT_JSON: key,
    VERTEX_STORAGE_URI: 'gs://veo-out/videos',
  };
  const providerOf = (environment: Record<string, string>, upstream: string) => {
    const config = loadConfig({ ...base, ...environment });
    return upstreamProviders(config, settingsFrom(config)).upstreamProviders[upstream];
  };

  it('makes Vertex tasks await their push only when an account is configured, alone or in a pool', () => {
    const account = 'push@p.iam.gserviceaccount.com';
    expect(providerOf(vertex, 'vertex')?.pushes).toBe(false);
    expect(providerOf({ ...vertex, VERTEX_PUSH_ACCOUNT: account }, 'vertex')?.pushes).toBe(true);
    const entry = {
      name: 'vx',
      provider: 'vertex',
      storageUri: 'gs://b/v',
      secret: { serviceAccountJson: key },
    };
    expect(providerOf({ UPSTREAMS: JSON.stringify([entry]) }, 'vx')?.pushes).toBe(false);
    expect(
      providerOf({ UPSTREAMS: JSON.stringify([{ ...entry, pushAccount: account }]) }, 'vx')?.pushes,
    ).toBe(true);
  });

  it('refuses an account without the bucket its notifications come from, at cold start', () => {
    const { VERTEX_STORAGE_URI: _, ...bucketless } = vertex;
    expect(() =>
      providerOf({ ...bucketless, VERTEX_PUSH_ACCOUNT: 'push@p.iam.gserviceaccount.com' }, 'vertex'),
    ).toThrow('a push needs storageUri');
    expect(() => loadConfig({ ...base, ...vertex, VERTEX_PUSH_ACCOUNT: 'not an email' })).toThrow(
      'VERTEX_PUSH_ACCOUNT',
    );
  });
});

describe('the pool’s schemas', () => {
  it('are built for the first list to parse, never by a function without UPSTREAMS', async () => {
    vi.resetModules();
    const { loadConfig: freshLoad } = await import('./config');
    const pool = JSON.stringify([
      { name: 'kie-a', provider: 'kie', secret: { apiKey: 'k', webhookSecret: 'w' } },
    ]);
    const without = await schemasBuilt(() => freshLoad(base));
    const first = await schemasBuilt(() => freshLoad({ ...base, UPSTREAMS: pool }));
    const again = await schemasBuilt(() => freshLoad({ ...base, UPSTREAMS: pool }));
    // ~95 schemas make the pool's; parsing the rest of the environment builds a few (IAM_PRINCIPALS').
    expect(first - without).toBeGreaterThan(50);
    expect(again).toBe(without);
  });
});
