import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient, taskCount } from './support';

/**
 * The SSRF corpus end to end (issue 7): on a stack with the deployed URL policy (no loopback, https only),
 * every address spelling that reaches inside is refused at submit with a 422 naming the field, and
 * nothing is written. A *name* that resolves to a private address is refused at delivery instead; the
 * guarded HTTP client proves that with an injected resolver in
 * functions/adapters/http/guarded-request.test.ts (DNS rebinding, every resolved address checked).
 */
let stack: RunningLocalStack;
let client: ReturnType<typeof apiClient>;

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    environment: { ALLOW_LOOPBACK_URLS: 'false', ALLOW_HTTP_CALLBACKS: 'false' },
  });
  client = apiClient(stack);
});

afterAll(async () => {
  await stack?.stop();
});

const hosts = [
  // loopback, in every spelling WHATWG URL parsing turns into 127.0.0.1
  '127.0.0.1',
  '127.1.2.3',
  'localhost',
  'LOCALHOST.',
  'api.localhost',
  '[::1]',
  '[0:0:0:0:0:0:0:1]',
  '2130706433',
  '0177.0.0.1',
  '0x7f.1',
  '0x7f000001',
  '127.1',
  // private ranges
  '10.0.0.1',
  '172.16.0.1',
  '172.31.255.255',
  '192.168.0.1',
  '[fc00::1]',
  '[fd12:3456::1]',
  // link-local and metadata
  '169.254.169.254',
  '169.254.170.2',
  '[fd00:ec2::254]',
  '[fe80::1]',
  '100.100.100.200',
  // carrier-grade NAT
  '100.64.0.1',
  '100.127.255.254',
  // IPv4-mapped and NAT64 forms of inside addresses
  '[::ffff:127.0.0.1]',
  '[::ffff:7f00:1]',
  '[::ffff:169.254.169.254]',
  '[::ffff:10.0.0.1]',
  '[64:ff9b::127.0.0.1]',
  '[64:ff9b::a9fe:a9fe]',
  '[64:ff9b::10.0.0.1]',
  // unspecified, broadcast, multicast, 6to4, Teredo
  '0.0.0.0',
  '0',
  '[::]',
  '255.255.255.255',
  '224.0.0.1',
  '[2002:7f00:1::]',
  '[2001:0:4136:e378:8000:63bf:3fff:fdd2]',
];

const corpus = [
  ...hosts.map((h) => `https://${h}/hook`),
  ...hosts.slice(0, 6).map((h) => `https://${h}:8443/x?y=1#z`),
  // https is required on deployed stages, even to a public name
  'http://example.com/hook',
  'http://93.184.216.34/hook',
];

describe('SSRF corpus, deployed URL policy', () => {
  it(`refuses all ${corpus.length} callBackUrl spellings with 422 naming the field`, async () => {
    const before = await taskCount();
    const refused: string[] = [];
    for (const url of corpus) {
      const { status, json } = await client.call('POST', '/api/v1/veo/generate', {
        body: { prompt: 'A dog', callBackUrl: url },
      });
      expect([url, status, json.code]).toEqual([url, 422, 422]);
      expect(json.msg, url).toMatch(/^callBackUrl /);
      refused.push(url);
    }
    expect(refused).toHaveLength(corpus.length);
    expect(await taskCount()).toBe(before);
  });

  it(`refuses all ${corpus.length} imageUrls spellings, first or second image, and on 4K requests`, async () => {
    const before = await taskCount();
    for (const [i, url] of corpus.entries()) {
      const images = i % 2 === 0 ? [url] : ['https://example.com/first.png', url];
      const { status, json } = await client.call('POST', '/api/v1/veo/generate', {
        body: { prompt: 'A dog', imageUrls: images },
      });
      expect([url, status, json.code]).toEqual([url, 422, 422]);
      expect(json.msg, url).toMatch(new RegExp(`^imageUrls\\[${images.length - 1}\\] `));
      const fourK = await client.call('POST', '/api/v1/veo/get-4k-video', {
        body: { taskId: 'no-such-task', callBackUrl: url },
      });
      expect([url, fourK.status]).toEqual([url, 422]);
      expect(fourK.json.msg, url).toMatch(/^callBackUrl /);
    }
    expect(await taskCount()).toBe(before);
  });

  it('accepts a public https URL under the same policy (the corpus is refused for its address)', async () => {
    const taskId = await client.generate({ prompt: 'A dog', callBackUrl: 'https://example.com/hook' });
    expect(taskId).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});
