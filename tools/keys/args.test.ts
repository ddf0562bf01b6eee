import { describe, expect, it } from 'vitest';
import { formatRate, KeysError, parseKeysArgs, parseRate, resolveKeyId } from './args';

const parse = (line: string) => parseKeysArgs(line.split(' ').filter(Boolean));
const refusal = (line: string) => {
  try {
    parse(line);
  } catch (error) {
    expect(error).toBeInstanceOf(KeysError);
    return (error as Error).message;
  }
  throw new Error(`"${line}" was accepted`);
};

describe('parseKeysArgs', () => {
  it('reads create with its options in any order and either spelling', () => {
    expect(parse('create --name acme --credits 1000 --rate 20/10s')).toEqual({
      command: { command: 'create', name: 'acme', credits: 1000, rate: { limit: 20, windowSeconds: 10 } },
      target: undefined,
      json: false,
    });
    expect(parse('--credits=0 --json create --local --name=a=b').command).toEqual({
      command: 'create',
      name: 'a=b',
      credits: 0,
    });
    expect(parse('--credits=0 --json create --local --name=x')).toMatchObject({
      target: { kind: 'local' },
      json: true,
    });
    // Spaces in a name survive when the shell passes them as one argument.
    expect(parseKeysArgs(['create', '--name', '  Acme Corp ', '--credits', '5']).command).toMatchObject({
      name: 'Acme Corp',
    });
  });

  it('takes a negative credit change as a value, not as an option', () => {
    expect(parse('add-credits ABCDEF0123 -50').command).toEqual({
      command: 'add-credits',
      keyId: 'abcdef0123',
      delta: -50,
    });
    expect(parse('add-credits abcdef01 +7').command).toMatchObject({ delta: 7 });
    expect(parse('add-credits abcdef01 -- -3').command).toMatchObject({ delta: -3 });
  });

  it('reads the key-id commands and list', () => {
    for (const command of ['revoke', 'show-secret', 'rotate-secret'] as const) {
      expect(parse(`${command} 0123456789abcdef`).command).toEqual({ command, keyId: '0123456789abcdef' });
    }
    expect(parse('list --json').command).toEqual({ command: 'list' });
    expect(parse('list').json).toBe(false);
  });

  it('reads each target, and refuses two at once or options that go with another', () => {
    expect(parse('list --stack VeoServerless --region eu-west-1').target).toEqual({
      kind: 'stack',
      stack: 'VeoServerless',
      region: 'eu-west-1',
    });
    expect(parse('list --table veo-api-keys --endpoint http://127.0.0.1:8000').target).toEqual({
      kind: 'table',
      table: 'veo-api-keys',
      endpoint: 'http://127.0.0.1:8000',
    });
    expect(parse('list --local').target).toEqual({ kind: 'local' });
    expect(refusal('list --local --stack S')).toMatch(/Choose one target: --local or --stack/);
    expect(refusal('list --stack S --table T')).toMatch(/Choose one target/);
    expect(refusal('list --endpoint http://x')).toMatch(/--endpoint goes with --table/);
    expect(refusal('list --local --region eu-west-1')).toMatch(/--region goes with --stack or --table/);
    expect(refusal('list --table T --endpoint nope')).toMatch(/--endpoint must be a URL/);
  });

  it('answers help for --help, -h and help, whatever else is there', () => {
    for (const line of ['--help', '-h', 'help', 'create -h', 'list --help --local']) {
      expect(parse(line).command).toEqual({ command: 'help' });
    }
  });

  it('refuses what it cannot do, saying why', () => {
    expect(refusal('')).toMatch(/Give a command/);
    expect(refusal('mint')).toMatch(/Unknown command "mint"/);
    expect(refusal('list --force')).toMatch(/Unknown option --force/);
    expect(refusal('list -x')).toMatch(/Unknown option -x/);
    expect(refusal('list --json=yes')).toMatch(/--json takes no value/);
    expect(refusal('create --name')).toMatch(/--name needs a value/);
    expect(refusal('create --name --credits 5')).toMatch(/--name needs a value/);
    expect(refusal('create --credits 5')).toMatch(/create needs --name/);
    expect(refusal('create --name a')).toMatch(/create needs --credits/);
    expect(refusal('create --name a --credits -5')).toMatch(/--credits must be a whole number ≥ 0/);
    expect(refusal('create --name a --credits 1.5')).toMatch(/--credits must be a whole number/);
    expect(refusal('create --name a --credits 99999999999999999999')).toMatch(/--credits must be/);
    expect(refusal('create --name a --credits 5 --rate fast')).toMatch(/--rate must look like 20\/10s/);
    expect(refusal('create --name a --credits 5 extra')).toMatch(/Usage: npm run keys -- create/);
    expect(refusal('list --name a')).toMatch(/--name belongs to create, not list/);
    expect(refusal('revoke')).toMatch(/Usage: npm run keys -- revoke KEY_ID/);
    expect(refusal('revoke abcdef01 abcdef02')).toMatch(/revoke KEY_ID/);
    expect(refusal('revoke abc')).toMatch(/KEY_ID must be at least 8 hex digits/);
    expect(refusal('revoke veo_sk_abcdefgh')).toMatch(/KEY_ID must be/);
    expect(refusal('add-credits abcdef01')).toMatch(/add-credits KEY_ID N/);
    expect(refusal('add-credits abcdef01 0')).toMatch(/N must be a whole number other than 0/);
    expect(refusal('add-credits abcdef01 ten')).toMatch(/N must be a whole number/);
    expect(() => parseKeysArgs(['create', '--name', 'a\u0007b', '--credits', '1'])).toThrow(/printable/);
    expect(() => parseKeysArgs(['create', '--name', 'a\nb', '--credits', '1'])).toThrow(/printable/);
    expect(() => parseKeysArgs(['create', '--name', '   ', '--credits', '1'])).toThrow(/1 to 100/);
  });
});

describe('parseRate and formatRate', () => {
  it('reads limits per second, minute and hour windows and writes them back the same way', () => {
    expect(parseRate('20/10s')).toEqual({ limit: 20, windowSeconds: 10 });
    expect(parseRate('100/m')).toEqual({ limit: 100, windowSeconds: 60 });
    expect(parseRate('1000/1h')).toEqual({ limit: 1000, windowSeconds: 3600 });
    expect(parseRate('5/90s')).toEqual({ limit: 5, windowSeconds: 90 });
    for (const rate of ['20/10s', '100/1m', '1000/1h', '5/90s', '3/2m', '1/24h']) {
      expect(formatRate(parseRate(rate))).toBe(rate);
    }
    expect(formatRate(undefined)).toBe('default');
  });

  it('refuses zero, missing units and windows over a day', () => {
    for (const rate of ['0/10s', '20/0s', '20/10', '20', '20/10d', '-1/10s', '20/25h', '20/86401s', 'x/1s']) {
      expect(() => parseRate(rate), rate).toThrow(KeysError);
    }
  });
});

describe('resolveKeyId', () => {
  const hash = (start: string) => start.padEnd(64, '0');
  const keys = [
    { keyHash: hash('aaaa1111bbbb2222'), name: 'one' },
    { keyHash: hash('aaaa1111bbbb2223'), name: 'two' },
    { keyHash: hash('cccc3333'), name: 'three' },
  ];

  it('finds the one key whose hash starts with the id, in either case', () => {
    expect(resolveKeyId(keys, 'cccc3333').name).toBe('three');
    expect(resolveKeyId(keys, 'AAAA1111BBBB2223').name).toBe('two');
    expect(resolveKeyId(keys, hash('cccc3333')).name).toBe('three');
  });

  it('refuses an id that matches no key', () => {
    expect(() => resolveKeyId(keys, 'dddd4444')).toThrow(/No key has the id dddd4444/);
    expect(() => resolveKeyId([], 'dddd4444')).toThrow(KeysError);
  });

  it('refuses an ambiguous id, naming the matches by enough of their hash to tell them apart', () => {
    expect(() => resolveKeyId(keys, 'aaaa1111')).toThrow(
      'The key id aaaa1111 matches 2 keys: aaaa1111bbbb2222 (one), aaaa1111bbbb2223 (two); give more of it',
    );
    const distinctEarly = [
      { keyHash: hash('eeee5555a'), name: 'x' },
      { keyHash: hash('eeee5555b'), name: 'y' },
    ];
    expect(() => resolveKeyId(distinctEarly, 'eeee5555')).toThrow(/eeee5555a000 \(x\), eeee5555b000 \(y\)/);
  });
});
