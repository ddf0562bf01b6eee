import type { ApiKey } from '../../functions/core/ports';

/** A mistake in what the operator asked for or named: printed as is, exit code 1. */
export class KeysError extends Error {
  override name = 'KeysError';
}

export type RateLimit = NonNullable<ApiKey['rateLimit']>;

export type Command =
  | { command: 'help' }
  | { command: 'create'; name: string; credits: number; rate?: RateLimit }
  | { command: 'list' }
  | { command: 'add-credits'; keyId: string; delta: number }
  | { command: 'revoke' | 'show-secret' | 'rotate-secret'; keyId: string };

/** Which key table the tool works on; undefined: the running local stack if there is one. */
export type Target =
  | { kind: 'local' }
  | { kind: 'stack'; stack: string; region?: string }
  | { kind: 'table'; table: string; region?: string; endpoint?: string };

export interface KeysArgs {
  command: Command;
  target: Target | undefined;
  json: boolean;
}

export const usage = `Usage: npm run keys -- <command> [target] [--json]

Commands
  create --name NAME --credits N [--rate 20/10s]
                         mint a key; prints the key and its webhook secret once
  list                   every key: name, key id, credits, rate, created, revoked (never the key)
  add-credits KEY_ID N   add N credits (negative N takes them away; never below 0)
  revoke KEY_ID          refuse the key from now on (401)
  show-secret KEY_ID     print the key's webhook secret
  rotate-secret KEY_ID   replace the webhook secret and print the new one

KEY_ID is the start of the key's SHA-256 hash as \`list\` shows it (at least 8 hex digits).
--rate is new tasks per window: 20/10s, 100/1m, 1000/1h; the deployment's default when left out.

Target (one of; default --local when \`npm start\` is running)
  --local                        the stack \`npm start\` runs on this machine
  --stack NAME [--region R]      a deployed stack, e.g. VeoServerless (reads its ApiKeysTableName output)
  --table NAME [--region R] [--endpoint URL]
                                 a table by name; --endpoint for DynamoDB Local
AWS credentials and the default region come from the AWS SDK's usual chain (AWS_PROFILE, environment, SSO).

--json prints the result as JSON.`;

const valueOptions = ['name', 'credits', 'rate', 'stack', 'table', 'region', 'endpoint'] as const;
const flagOptions = ['local', 'json', 'help'] as const;
type ValueOption = (typeof valueOptions)[number];
type FlagOption = (typeof flagOptions)[number];
const createOptions: ValueOption[] = ['name', 'credits', 'rate'];

/**
 * Hand-rolled rather than node:util parseArgs, which takes `add-credits ID -50` for an option `-5`.
 * Options go anywhere, as `--opt value` or `--opt=value`; `--` ends them.
 */
export function parseKeysArgs(argv: readonly string[]): KeysArgs {
  const values: Partial<Record<ValueOption, string>> = {};
  const flags: Partial<Record<FlagOption, true>> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h') {
      flags.help = true;
      continue;
    }
    if (!arg.startsWith('-') || /^-\d+$/.test(arg)) {
      positionals.push(arg);
      continue;
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    const name = match?.[1] ?? arg;
    if ((flagOptions as readonly string[]).includes(name)) {
      if (match?.[2] !== undefined) throw new KeysError(`--${name} takes no value`);
      flags[name as FlagOption] = true;
    } else if ((valueOptions as readonly string[]).includes(name)) {
      const value = match?.[2] ?? argv[++i];
      if (value === undefined || (match?.[2] === undefined && value.startsWith('--'))) {
        throw new KeysError(`--${name} needs a value`);
      }
      values[name as ValueOption] = value;
    } else {
      throw new KeysError(`Unknown option ${arg}`);
    }
  }

  const json = flags.json === true;
  const target = parseTarget(values, flags.local === true);
  const [command, ...rest] = positionals;
  if (flags.help || command === 'help') return { command: { command: 'help' }, target, json };
  if (command === undefined) {
    throw new KeysError(
      'Give a command: create, list, add-credits, revoke, show-secret or rotate-secret (--help)',
    );
  }

  if (command !== 'create') {
    const misplaced = createOptions.find((option) => values[option] !== undefined);
    if (misplaced) throw new KeysError(`--${misplaced} belongs to create, not ${command}`);
  }
  const expect = (count: number, shape: string) => {
    if (rest.length !== count) throw new KeysError(`Usage: npm run keys -- ${command}${shape}`);
  };
  switch (command) {
    case 'create': {
      expect(0, ' --name NAME --credits N [--rate 20/10s]');
      if (values.name === undefined) throw new KeysError('create needs --name NAME');
      if (values.credits === undefined) throw new KeysError('create needs --credits N');
      return {
        command: {
          command,
          name: parseName(values.name),
          credits: parseCount(values.credits, '--credits'),
          ...(values.rate === undefined ? {} : { rate: parseRate(values.rate) }),
        },
        target,
        json,
      };
    }
    case 'list':
      expect(0, '');
      return { command: { command }, target, json };
    case 'add-credits':
      expect(2, ' KEY_ID N');
      return {
        command: { command, keyId: parseKeyId(rest[0] as string), delta: parseDelta(rest[1] as string) },
        target,
        json,
      };
    case 'revoke':
    case 'show-secret':
    case 'rotate-secret':
      expect(1, ' KEY_ID');
      return { command: { command, keyId: parseKeyId(rest[0] as string) }, target, json };
    default:
      throw new KeysError(`Unknown command "${command}"; run \`npm run keys -- --help\``);
  }
}

function parseTarget(values: Partial<Record<ValueOption, string>>, local: boolean): Target | undefined {
  const chosen = [local && '--local', values.stack && '--stack', values.table && '--table'].filter(Boolean);
  if (chosen.length > 1) throw new KeysError(`Choose one target: ${chosen.join(' or ')}`);
  if (values.endpoint !== undefined && values.table === undefined) {
    throw new KeysError('--endpoint goes with --table');
  }
  if (values.region !== undefined && values.stack === undefined && values.table === undefined) {
    throw new KeysError('--region goes with --stack or --table (the local stack knows its own)');
  }
  const region = values.region === undefined ? {} : { region: values.region };
  if (values.stack !== undefined) return { kind: 'stack', stack: values.stack, ...region };
  if (values.table !== undefined) {
    if (values.endpoint !== undefined && !URL.canParse(values.endpoint)) {
      throw new KeysError(`--endpoint must be a URL, e.g. http://127.0.0.1:8000 (got "${values.endpoint}")`);
    }
    return {
      kind: 'table',
      table: values.table,
      ...region,
      ...(values.endpoint === undefined ? {} : { endpoint: values.endpoint }),
    };
  }
  return local ? { kind: 'local' } : undefined;
}

function parseName(raw: string): string {
  const name = raw.trim();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (name === '' || name.length > 100 || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new KeysError('--name must be 1 to 100 printable characters');
  }
  return name;
}

function parseCount(raw: string, what: string): number {
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value)) throw new KeysError(`${what} must be a whole number ≥ 0 (got "${raw}")`);
  return value;
}

function parseDelta(raw: string): number {
  const value = /^[+-]?\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value === 0) {
    throw new KeysError(`N must be a whole number other than 0, e.g. 500 or -200 (got "${raw}")`);
  }
  return value;
}

const windowUnits = { s: 1, m: 60, h: 3600 } as const;

/** `20/10s` → 20 per 10 seconds; `100/m` → 100 per minute. Windows from 1 s to 1 day. */
export function parseRate(raw: string): RateLimit {
  const match = /^(\d+)\/(\d*)([smh])$/.exec(raw.trim());
  const limit = Number(match?.[1]);
  const windowSeconds =
    Number(match?.[2] || 1) * windowUnits[(match?.[3] ?? 's') as keyof typeof windowUnits];
  if (!match || !Number.isSafeInteger(limit) || limit < 1 || windowSeconds < 1 || windowSeconds > 86_400) {
    throw new KeysError(`--rate must look like 20/10s, 100/1m or 1000/1h, at most one day (got "${raw}")`);
  }
  return { limit, windowSeconds };
}

export function formatRate(rate: RateLimit | undefined): string {
  if (rate === undefined) return 'default';
  const { limit, windowSeconds: s } = rate;
  if (s % 3600 === 0) return `${limit}/${s / 3600}h`;
  if (s % 60 === 0) return `${limit}/${s / 60}m`;
  return `${limit}/${s}s`;
}

function parseKeyId(raw: string): string {
  if (!/^[0-9a-f]{8,64}$/i.test(raw)) {
    throw new KeysError(
      `KEY_ID must be at least 8 hex digits of the key's hash, as \`list\` shows (got "${raw}")`,
    );
  }
  return raw.toLowerCase();
}

/** What `list` shows for a key: the start of its hash, never the key. */
export const keyIdOf = (keyHash: string): string => keyHash.slice(0, 12);

/** The one key whose hash starts with `keyId`; a prefix matching none or several is an error. */
export function resolveKeyId<K extends Pick<ApiKey, 'keyHash' | 'name'>>(
  keys: readonly K[],
  keyId: string,
): K {
  const prefix = keyId.toLowerCase();
  const matches = keys
    .filter((key) => key.keyHash.startsWith(prefix))
    .sort((a, b) => a.keyHash.localeCompare(b.keyHash));
  const [only] = matches;
  if (only !== undefined && matches.length === 1) return only;
  if (only === undefined)
    throw new KeysError(`No key has the id ${prefix}; \`npm run keys -- list\` shows them`);
  // Show each match by just enough of its hash to tell them apart.
  let length = 12;
  while (new Set(matches.map((key) => key.keyHash.slice(0, length))).size < matches.length && length < 64) {
    length++;
  }
  const listed = matches.map((key) => `${key.keyHash.slice(0, length)} (${key.name})`).join(', ');
  throw new KeysError(`The key id ${prefix} matches ${matches.length} keys: ${listed}; give more of it`);
}
