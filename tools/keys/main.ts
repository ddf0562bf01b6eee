import { hashApiKey, newApiKey, newWebhookSecret } from '../../functions/core/api-keys';
import { InsufficientCreditsError } from '../../functions/core/errors';
import type { ApiKey } from '../../functions/core/ports';
import { defaultStackFile } from '../../local/stack-file';
import { type Command, formatRate, KeysError, keyIdOf, parseKeysArgs, resolveKeyId, usage } from './args';
import { type OpenTarget, openTarget } from './target';

export interface KeysIo {
  /** Results (keys, secrets, listings, JSON): what a script captures. */
  out(text: string): void;
  /** Where the tool works and what it did, for the operator. */
  err(text: string): void;
  /** Where `npm start` publishes the local stack. */
  stackFile: string;
  now(): number;
}

const processIo: KeysIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  stackFile: process.env.VEO_LOCAL_STACK_FILE || defaultStackFile,
  now: Date.now,
};

/** `npm run keys -- …`; resolves to the exit code. */
export async function main(argv: readonly string[], io: Partial<KeysIo> = {}): Promise<number> {
  const { out, err, stackFile, now } = { ...processIo, ...io };
  let target: OpenTarget | undefined;
  try {
    const args = parseKeysArgs(argv);
    if (args.command.command === 'help') {
      out(usage);
      return 0;
    }
    target = await openTarget(args.target, stackFile);
    err(`keys: table ${target.table} (${target.description})`);
    const result = await run(args.command, target, now);
    out(args.json ? JSON.stringify(result.json, null, 2) : result.text);
    if (result.note) err(result.note);
    return 0;
  } catch (error) {
    err(`keys: ${explain(error, target)}`);
    return 1;
  } finally {
    target?.close();
  }
}

interface Result {
  text: string;
  json: unknown;
  note?: string;
}

async function run(command: Exclude<Command, { command: 'help' }>, target: OpenTarget, now: () => number) {
  const { store } = target;
  if (command.command === 'create') return create(command, target, now());
  if (command.command === 'list') return list(await store.list());

  const key = resolveKeyId(await store.list(), command.keyId);
  const id = keyIdOf(key.keyHash);
  const named = `"${key.name}" (${id})`;
  const gone = () => new KeysError(`The key ${named} no longer exists`);
  switch (command.command) {
    case 'add-credits': {
      let credits: number | undefined;
      try {
        credits = await store.addCredits(key.keyHash, command.delta);
      } catch (error) {
        if (!(error instanceof InsufficientCreditsError)) throw error;
        throw new KeysError(
          `Cannot take ${-command.delta} credits from ${named}: its balance is ${error.balance} and never goes below 0`,
        );
      }
      if (credits === undefined) throw gone();
      const change = command.delta > 0 ? `+${command.delta}` : String(command.delta);
      return {
        text: `${named}: ${credits} credits (${change})`,
        json: { name: key.name, keyId: id, credits, added: command.delta },
        ...(key.revoked ? { note: `Note: ${named} is revoked; its credits cannot be spent` } : {}),
      } satisfies Result;
    }
    case 'revoke': {
      if (key.revoked) {
        return {
          text: `${named} was already revoked${key.revokedAt ? ` at ${timestamp(key.revokedAt)}` : ''}`,
          json: { name: key.name, keyId: id, revoked: true, revokedAt: isoOrNull(key.revokedAt) },
        } satisfies Result;
      }
      const at = now();
      if (!(await store.revoke(key.keyHash, at))) throw gone();
      return {
        text: `Revoked ${named}: requests with it are now refused (401)`,
        json: { name: key.name, keyId: id, revoked: true, revokedAt: isoOrNull(at) },
      } satisfies Result;
    }
    case 'show-secret':
      return {
        text: key.webhookSecret,
        json: { name: key.name, keyId: id, webhookSecret: key.webhookSecret },
        note: `Webhook secret of ${named}`,
      } satisfies Result;
    case 'rotate-secret': {
      const webhookSecret = newWebhookSecret();
      if (!(await store.setWebhookSecret(key.keyHash, webhookSecret))) throw gone();
      return {
        text: webhookSecret,
        json: { name: key.name, keyId: id, webhookSecret },
        note: `New webhook secret of ${named}: callbacks are signed with it from now on; the old one no longer verifies`,
      } satisfies Result;
    }
  }
}

async function create(
  command: Extract<Command, { command: 'create' }>,
  target: OpenTarget,
  createdAt: number,
): Promise<Result> {
  const apiKey = newApiKey();
  const key: ApiKey = {
    keyHash: hashApiKey(apiKey),
    name: command.name,
    credits: command.credits,
    webhookSecret: newWebhookSecret(),
    createdAt,
    ...(command.rate === undefined ? {} : { rateLimit: command.rate }),
  };
  // Only the hash is stored: the key exists nowhere but in this output.
  await target.store.put(key);
  const id = keyIdOf(key.keyHash);
  const rate = formatRate(key.rateLimit);
  const lines = [
    `Created "${key.name}" (${id}) with ${key.credits} credits, rate ${rate}`,
    '',
    `  API key         ${apiKey}`,
    `  Webhook secret  ${key.webhookSecret}`,
  ];
  if (target.apiUrl) lines.push(`  Base URL        ${target.apiUrl}`);
  return {
    text: lines.join('\n'),
    json: {
      name: key.name,
      keyId: id,
      credits: key.credits,
      rateLimit: key.rateLimit ?? null,
      createdAt: isoOrNull(createdAt),
      apiKey,
      webhookSecret: key.webhookSecret,
    },
    note: 'Keep the API key now: it is not shown again (only its SHA-256 hash is stored).',
  };
}

function list(keys: ApiKey[]): Result {
  const sorted = [...keys].sort(
    (a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0) || a.name.localeCompare(b.name),
  );
  const rows = sorted.map((key) => [
    key.name,
    keyIdOf(key.keyHash),
    String(key.credits),
    formatRate(key.rateLimit),
    key.createdAt === undefined ? '-' : timestamp(key.createdAt),
    key.revokedAt !== undefined ? timestamp(key.revokedAt) : key.revoked ? 'yes' : '-',
  ]);
  const header = ['NAME', 'KEY ID', 'CREDITS', 'RATE', 'CREATED', 'REVOKED'];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        column === 2 ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd();
  return {
    text:
      rows.length === 0
        ? 'No keys yet: npm run keys -- create --name NAME --credits N'
        : [header, ...rows].map(line).join('\n'),
    // Never the key, nor the webhook secret: `show-secret` is for that.
    json: sorted.map((key) => ({
      name: key.name,
      keyId: keyIdOf(key.keyHash),
      credits: key.credits,
      rateLimit: key.rateLimit ?? null,
      createdAt: isoOrNull(key.createdAt),
      revoked: key.revoked === true,
      revokedAt: isoOrNull(key.revokedAt),
    })),
  };
}

/** UTC to the second, e.g. 2025-06-01T12:34:56Z. */
function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function isoOrNull(ms: number | undefined): string | null {
  return ms === undefined ? null : timestamp(ms);
}

/** One line for the operator; AWS errors keep their name, which is what one searches for. */
function explain(error: unknown, target: OpenTarget | undefined): string {
  if (error instanceof KeysError) return error.message;
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'ResourceNotFoundException' && target !== undefined) {
    return `Table ${target.table} not found (${target.description})`;
  }
  if (error.name === 'CredentialsProviderError') {
    return `No AWS credentials: ${error.message} (set AWS_PROFILE, or sign in with \`aws sso login\`)`;
  }
  return `${error.name}: ${error.message}`;
}
