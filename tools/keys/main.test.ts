import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoApiKeyStore } from '../../functions/adapters/dynamodb/api-key-store';
import { authenticate, hashApiKey } from '../../functions/core/api-keys';
import { KieError } from '../../functions/core/errors';
import { type LocalStack, startEmulators } from '../../local/emulators';
import { main } from './main';

// Real DynamoDB Local: credits must be exact under concurrency, which rests on conditional writes.
let emulators: LocalStack;
let raw: DynamoDBClient;
let store: DynamoApiKeyStore;

beforeAll(async () => {
  emulators = await startEmulators();
  raw = new DynamoDBClient({
    region: emulators.region,
    endpoint: emulators.dynamodbEndpoint,
    credentials: emulators.credentials,
  });
  store = new DynamoApiKeyStore(DynamoDBDocumentClient.from(raw), emulators.tables.apiKeys);
}, 90_000);

afterAll(async () => {
  raw?.destroy();
  await emulators?.stop();
});

/** Runs `npm run keys -- …args` in process against the emulator's key table. */
async function keys(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    [...args, '--table', emulators.tables.apiKeys, '--endpoint', emulators.dynamodbEndpoint],
    {
      out: (text) => out.push(text),
      err: (text) => err.push(text),
      stackFile: '/nonexistent/local-stack.json',
    },
  );
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

let names = 0;
/** Creates a key through the tool and returns what it printed, parsed. */
async function create(credits: number, ...more: string[]) {
  const name = `test-${++names}-${Date.now()}`;
  const run = await keys('create', '--name', name, '--credits', String(credits), '--json', ...more);
  expect(run.code, run.stderr).toBe(0);
  const printed = JSON.parse(run.stdout) as {
    name: string;
    keyId: string;
    credits: number;
    apiKey: string;
    webhookSecret: string;
    rateLimit: unknown;
    createdAt: string;
  };
  return { ...printed, run };
}

const balance = async (apiKey: string) => (await store.get(hashApiKey(apiKey)))?.credits;

describe('npm run keys (DynamoDB Local)', () => {
  it('creates a key that authenticates, prints it once, and stores only its SHA-256 hash', async () => {
    const text = await keys('create', '--name', 'Acme Corp', '--credits', '1500', '--rate', '30/1m');
    expect(text.code, text.stderr).toBe(0);
    const apiKey = /API key\s+(veo_sk_\S+)/.exec(text.stdout)?.[1] as string;
    const secret = /Webhook secret\s+(whsec_\S+)/.exec(text.stdout)?.[1] as string;
    expect(apiKey).toMatch(/^veo_sk_[\w-]{32}$/);
    expect(text.stdout.split(apiKey)).toHaveLength(2); // once
    expect(text.stderr).not.toContain(apiKey);
    expect(text.stderr).toContain('it is not shown again');
    expect(text.stdout).toMatch(/^Created "Acme Corp" \([0-9a-f]{12}\) with 1500 credits, rate 30\/1m$/m);

    const key = await authenticate(store, `Bearer ${apiKey}`);
    expect(key).toMatchObject({
      keyHash: hashApiKey(apiKey),
      name: 'Acme Corp',
      credits: 1500,
      webhookSecret: secret,
      rateLimit: { limit: 30, windowSeconds: 60 },
      createdAt: expect.any(Number),
    });

    // Nothing in the table holds the key: the raw items, every attribute, every key.
    const items = JSON.stringify(
      (await raw.send(new ScanCommand({ TableName: emulators.tables.apiKeys }))).Items,
    );
    expect(items).toContain(hashApiKey(apiKey));
    expect(items).not.toContain(apiKey);
    expect(items).not.toContain(apiKey.slice('veo_sk_'.length));
  });

  it('lists keys with id, credits, rate, created and revoked, and never a key or a secret', async () => {
    const first = await create(10, '--rate', '20/10s');
    const second = await create(0);
    const listed = await keys('list');
    expect(listed.code, listed.stderr).toBe(0);
    const lines = listed.stdout.split('\n');
    expect(lines[0]).toMatch(/^NAME +KEY ID +CREDITS +RATE +CREATED +REVOKED$/);
    const row = (name: string) => lines.find((line) => line.startsWith(`${name} `))?.split(/ +/);
    expect(row(first.name)).toEqual([first.name, first.keyId, '10', '20/10s', first.createdAt, '-']);
    expect(row(second.name)).toEqual([second.name, second.keyId, '0', 'default', second.createdAt, '-']);

    const json = await keys('list', '--json');
    const entries = JSON.parse(json.stdout) as { name: string }[];
    expect(entries.find((entry) => entry.name === first.name)).toEqual({
      name: first.name,
      keyId: first.keyId,
      credits: 10,
      rateLimit: { limit: 20, windowSeconds: 10 },
      createdAt: first.createdAt,
      revoked: false,
      revokedAt: null,
    });
    for (const output of [listed.stdout, listed.stderr, json.stdout, json.stderr]) {
      for (const secret of [first.apiKey, second.apiKey, first.webhookSecret, hashApiKey(first.apiKey)]) {
        expect(output).not.toContain(secret);
      }
    }
  });

  it('adds credits atomically: 20 concurrent top-ups land exactly', async () => {
    const key = await create(100);
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => keys('add-credits', key.keyId, String(i + 1))),
    );
    expect(runs.map((run) => run.code)).toEqual(Array(20).fill(0));
    expect(await balance(key.apiKey)).toBe(100 + 210);
    expect(runs[0]?.stdout).toMatch(
      new RegExp(`^"${key.name}" \\(${key.keyId}\\): \\d+ credits \\(\\+1\\)$`),
    );
  });

  it('takes credits away but never below 0, even when 20 withdrawals race', async () => {
    const key = await create(10);
    const tooMuch = await keys('add-credits', key.keyId, '-11');
    expect(tooMuch.code).toBe(1);
    expect(tooMuch.stderr).toContain(
      `keys: Cannot take 11 credits from "${key.name}" (${key.keyId}): its balance is 10 and never goes below 0`,
    );
    expect(await balance(key.apiKey)).toBe(10);

    const runs = await Promise.all(Array.from({ length: 20 }, () => keys('add-credits', key.keyId, '-1')));
    expect(runs.filter((run) => run.code === 0)).toHaveLength(10);
    expect(runs.filter((run) => run.code === 1 && /balance is 0/.test(run.stderr))).toHaveLength(10);
    expect(await balance(key.apiKey)).toBe(0);

    const json = await keys('add-credits', key.keyId, '5', '--json');
    expect(JSON.parse(json.stdout)).toEqual({ name: key.name, keyId: key.keyId, credits: 5, added: 5 });
  });

  it('revokes a key: authenticate refuses it with 401 from then on', async () => {
    const key = await create(50);
    await expect(authenticate(store, `Bearer ${key.apiKey}`)).resolves.toMatchObject({ name: key.name });
    const revoked = await keys('revoke', key.keyId);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toBe(
      `Revoked "${key.name}" (${key.keyId}): requests with it are now refused (401)`,
    );
    const refusal = await authenticate(store, `Bearer ${key.apiKey}`).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(KieError);
    expect((refusal as KieError).code).toBe(401);

    const again = await keys('revoke', key.keyId);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/was already revoked at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const row = (await keys('list')).stdout.split('\n').find((line) => line.startsWith(key.name));
    expect(row).toMatch(/\d\d:\d\dZ {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('rotates the webhook secret; show-secret prints the new one', async () => {
    const key = await create(1);
    const shown = await keys('show-secret', key.keyId);
    expect([shown.code, shown.stdout]).toEqual([0, key.webhookSecret]);

    const rotated = await keys('rotate-secret', key.keyId);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/^whsec_[\w+/=]{32}$/);
    expect(rotated.stdout).not.toBe(key.webhookSecret);
    expect(rotated.stderr).toContain('the old one no longer verifies');
    expect((await store.get(hashApiKey(key.apiKey)))?.webhookSecret).toBe(rotated.stdout);
    expect((await keys('show-secret', key.keyId)).stdout).toBe(rotated.stdout);
    expect(JSON.parse((await keys('show-secret', key.keyId, '--json')).stdout)).toEqual({
      name: key.name,
      keyId: key.keyId,
      webhookSecret: rotated.stdout,
    });
  });

  it('resolves KEY_ID from any unique prefix and refuses unknown and ambiguous ones', async () => {
    const key = await create(3);
    const fullHash = hashApiKey(key.apiKey);
    expect((await keys('show-secret', fullHash.slice(0, 8).toUpperCase())).stdout).toBe(key.webhookSecret);
    expect((await keys('show-secret', fullHash)).stdout).toBe(key.webhookSecret);

    // Two stored hashes sharing their first 10 hex digits.
    const twin = (tail: string) => ({
      keyHash: `feedface00${tail}`.padEnd(64, '0'),
      name: `twin-${tail}`,
      credits: 0,
      webhookSecret: 'whsec_test',
    });
    await store.put(twin('1'));
    await store.put(twin('2'));
    const ambiguous = await keys('revoke', 'feedface00');
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toContain(
      'keys: The key id feedface00 matches 2 keys: feedface0010 (twin-1), feedface0020 (twin-2); give more of it',
    );
    expect((await store.get(twin('1').keyHash))?.revoked).toBeUndefined();
    expect((await keys('revoke', 'feedface001')).code).toBe(0);

    const unknown = await keys('add-credits', '0123456789ab', '5');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('keys: No key has the id 0123456789ab');
  });

  it('says which table it works on, and names a missing table', async () => {
    const run = await keys('list');
    expect(run.stderr).toContain(`keys: table veo-api-keys (DynamoDB at ${emulators.dynamodbEndpoint})`);
    const errors: string[] = [];
    const missing = await main(
      ['list', '--table', 'no-such-table', '--endpoint', emulators.dynamodbEndpoint],
      {
        out: () => {},
        err: (text) => errors.push(text),
      },
    );
    expect(missing).toBe(1);
    expect(errors.at(-1)).toMatch(/^keys: Table no-such-table not found \(DynamoDB at http:/);
  });
});
