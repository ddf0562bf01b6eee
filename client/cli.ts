#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import {
  type Capabilities,
  type ExtendRequestInput,
  type GenerateRequestInput,
  type TaskRecord,
  VeoApiError,
  VeoClient,
  videoUrl,
  type WaitOptions,
  type WaitProgress,
} from './veo-client.js';

/**
 * The API from a terminal: `npm run veo -- <command>` in this repository, `veo <command>` where the
 * package is installed. Results go to stdout, progress and errors to
 * stderr. Exit codes: 0 done, 1 a failed task or an API error (the API's own message is shown), 2 bad usage.
 */

export const DEFAULT_BASE_URL = 'http://127.0.0.1:8080';

/** How the help names this program: through the repository's npm script, or as the installed `bin`. */
const program = process.env.npm_lifecycle_event === 'veo' ? 'npm run veo --' : 'veo';

/** One synopsis per command: shown alone after a usage mistake, all together in the help. */
const synopses = {
  generate: `generate PROMPT         submit a generation
      [--model veo3|veo3_fast|veo3_lite] [--aspect-ratio 16:9|9:16|Auto] [--image URL]... [--type GENERATION_TYPE]
      [--resolution 720p|1080p|4k] [--duration 4|6|8] [--no-audio] [--negative-prompt TEXT]
      [--person-generation allow_all|allow_adult|dont_allow] [--samples 1-4]
      [--seed N] [--watermark TEXT] [--callback URL] [--no-translation] [--wait] [--out FILE]
      What the deployment's upstream cannot honour is refused by the API, naming the field
      (its capabilities: GET /api/v1/capabilities.json).`,
  status: "status TASK_ID          show a task's record",
  wait: 'wait TASK_ID            wait until a task ends                [--out FILE]',
  download: "download TASK_ID        save a finished task's video          [--out FILE] [--index N]",
  credit: "credit                  show the key's remaining credits",
  capabilities: "capabilities            what the deployment's upstream can do, each rule with its source",
  '1080p': '1080p TASK_ID           the 1080p rendition                   [--index N] [--wait] [--out FILE]',
  '4k': '4k TASK_ID              start the 4K rendition       [--index N] [--callback URL] [--wait] [--out FILE]',
  extend: `extend TASK_ID PROMPT   continue a finished video as a new task
      [--model fast|quality] [--resolution 720p] [--no-audio] [--negative-prompt TEXT]
      [--person-generation VALUE] [--seed N] [--watermark TEXT] [--callback URL] [--wait] [--out FILE]`,
};

export const usage = `Usage: ${program} <command> [options]

Commands:
${Object.values(synopses)
  .map((s) => `  ${s}\n`)
  .join('')}
Options:
  --key KEY        API key (default: $VEO_API_KEY)
  --base-url URL   API address (default: $VEO_BASE_URL, else ${DEFAULT_BASE_URL})
  --json           print the API's data as JSON
  --interval SEC   seconds between polls while waiting (default 3)
  --timeout SEC    stop waiting after this many seconds (default 1800)
  --out FILE implies --wait. Exit codes: 0 done, 1 failed task or API error, 2 bad usage.
`;

/** The short help after a usage mistake: the command's synopsis, or the list of commands. */
function shortHelp(argv: string[]): string {
  const command = Object.keys(synopses).find((name) => argv.includes(name)) as
    | keyof typeof synopses
    | undefined;
  const body = command ? `  ${synopses[command]}` : `  commands: ${Object.keys(synopses).join(', ')}`;
  return `Usage: ${program} <command> [options]\n${body}\nMore: ${program} --help\n`;
}

const optionSpec = {
  model: { type: 'string' },
  aspect: { type: 'string' },
  'aspect-ratio': { type: 'string' },
  resolution: { type: 'string' },
  duration: { type: 'string' },
  'no-audio': { type: 'boolean' },
  'negative-prompt': { type: 'string' },
  'person-generation': { type: 'string' },
  samples: { type: 'string' },
  image: { type: 'string', multiple: true },
  type: { type: 'string' },
  seed: { type: 'string' },
  watermark: { type: 'string' },
  callback: { type: 'string' },
  'no-translation': { type: 'boolean' },
  wait: { type: 'boolean', short: 'w' },
  out: { type: 'string', short: 'o' },
  index: { type: 'string' },
  json: { type: 'boolean' },
  key: { type: 'string' },
  'base-url': { type: 'string' },
  interval: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

type OptionName = keyof typeof optionSpec;
const everywhere: OptionName[] = ['key', 'base-url', 'json', 'interval', 'timeout', 'help'];
const commandOptions = {
  generate: [
    'model',
    'aspect',
    'aspect-ratio',
    'resolution',
    'duration',
    'no-audio',
    'negative-prompt',
    'person-generation',
    'samples',
    'image',
    'type',
    'seed',
    'watermark',
    'callback',
    'no-translation',
    'wait',
    'out',
  ],
  status: [],
  wait: ['out'],
  download: ['out', 'index'],
  credit: [],
  capabilities: [],
  '1080p': ['index', 'wait', 'out'],
  '4k': ['index', 'callback', 'wait', 'out'],
  extend: [
    'model',
    'resolution',
    'no-audio',
    'negative-prompt',
    'person-generation',
    'seed',
    'watermark',
    'callback',
    'wait',
    'out',
  ],
} as const satisfies Record<string, OptionName[]>;
type CommandName = keyof typeof commandOptions;

export interface CommonOptions {
  json: boolean;
  apiKey?: string;
  baseUrl?: string;
  intervalMs: number;
  timeoutMs: number;
}

export type Command =
  | { name: 'help' }
  | { name: 'generate'; request: GenerateRequestInput; wait: boolean; out?: string }
  | { name: 'status'; taskId: string }
  | { name: 'wait'; taskId: string; out?: string }
  | { name: 'download'; taskId: string; index: number; out?: string }
  | { name: 'credit' }
  | { name: 'capabilities' }
  | { name: '1080p'; taskId: string; index: number; wait: boolean; out?: string }
  | { name: '4k'; taskId: string; index: number; callBackUrl?: string; wait: boolean; out?: string }
  | { name: 'extend'; request: ExtendRequestInput; wait: boolean; out?: string };

export type ParsedCli = Command & { options: CommonOptions };

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Reads the command line; throws UsageError with a short reason when it does not make sense. */
export function parseCli(argv: string[]): ParsedCli {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof optionSpec; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: optionSpec, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values: v, positionals } = parsed;
  const options: CommonOptions = {
    json: v.json ?? false,
    apiKey: v.key,
    baseUrl: v['base-url'],
    intervalMs: seconds(v.interval, 'interval', 3) * 1000,
    timeoutMs: seconds(v.timeout, 'timeout', 1800) * 1000,
  };
  const [name, ...args] = positionals;
  if (v.help || name === undefined || name === 'help') return { name: 'help', options };
  if (!(name in commandOptions)) throw new UsageError(`Unknown command "${name}"`);
  const command = name as CommandName;
  const allowed: readonly OptionName[] = [...everywhere, ...commandOptions[command]];
  for (const option of Object.keys(v) as OptionName[]) {
    if (!allowed.includes(option)) throw new UsageError(`${command} does not take --${option}`);
  }

  // --out means the video is wanted, so it implies waiting for it.
  const wait = (v.wait ?? false) || v.out !== undefined;
  const index = v.index === undefined ? 0 : wholeNumber(v.index, 'index');
  const taskId = () => {
    const id = args.shift();
    if (!id) throw new UsageError(`${command} needs a TASK_ID`);
    return id;
  };
  const prompt = () => {
    // Words after the command are one prompt, so quoting is optional.
    const text = args.splice(0).join(' ');
    if (!text.trim()) throw new UsageError(`${command} needs a PROMPT`);
    return text;
  };
  const noMore = () => {
    if (args.length > 0) throw new UsageError(`Unexpected argument "${args[0]}"`);
  };
  const seeds = v.seed === undefined ? undefined : integer(v.seed, 'seed');
  // Veo 3.1's options (generate and extend); values go to the API unchecked, as the enums below do.
  const veoOptions = {
    resolution: v.resolution as GenerateRequestInput['resolution'],
    generateAudio: v['no-audio'] ? false : undefined,
    negativePrompt: v['negative-prompt'],
    personGeneration: v['person-generation'] as GenerateRequestInput['personGeneration'],
  };

  switch (command) {
    case 'generate': {
      // Enum values go to the API unchecked: its schema is the one place that judges them.
      // --aspect is the older spelling of --aspect-ratio.
      if (v.aspect !== undefined && v['aspect-ratio'] !== undefined && v.aspect !== v['aspect-ratio'])
        throw new UsageError('--aspect and --aspect-ratio differ; give one of them');
      const request: GenerateRequestInput = {
        prompt: prompt(),
        model: v.model as GenerateRequestInput['model'],
        aspectRatio: (v['aspect-ratio'] ?? v.aspect) as GenerateRequestInput['aspectRatio'],
        generationType: v.type as GenerateRequestInput['generationType'],
        ...veoOptions,
        duration:
          v.duration === undefined
            ? undefined
            : (wholeNumber(v.duration, 'duration') as GenerateRequestInput['duration']),
        sampleCount: v.samples === undefined ? undefined : wholeNumber(v.samples, 'samples'),
        imageUrls: v.image,
        seeds,
        watermark: v.watermark,
        callBackUrl: v.callback,
        enableTranslation: v['no-translation'] ? false : undefined,
      };
      return { name: command, request: withoutUndefined(request), wait, out: v.out, options };
    }
    case 'extend': {
      const id = taskId();
      const request: ExtendRequestInput = {
        taskId: id,
        prompt: prompt(),
        model: v.model as ExtendRequestInput['model'],
        ...veoOptions,
        seeds,
        watermark: v.watermark,
        callBackUrl: v.callback,
      };
      return { name: command, request: withoutUndefined(request), wait, out: v.out, options };
    }
    case 'status':
    case 'wait':
    case 'download':
    case '1080p':
    case '4k': {
      const id = taskId();
      noMore();
      if (command === 'status') return { name: command, taskId: id, options };
      if (command === 'wait') return { name: command, taskId: id, out: v.out, options };
      if (command === 'download') return { name: command, taskId: id, index, out: v.out, options };
      if (command === '1080p') return { name: command, taskId: id, index, wait, out: v.out, options };
      return { name: command, taskId: id, index, callBackUrl: v.callback, wait, out: v.out, options };
    }
    case 'credit':
    case 'capabilities':
      noMore();
      return { name: command, options };
  }
}

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  env: Record<string, string | undefined>;
  fetch?: typeof fetch;
}

/** Runs one command line and returns the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let cli: ParsedCli;
  try {
    cli = parseCli(argv);
  } catch (error) {
    io.stderr.write(`error: ${(error as Error).message}\n${shortHelp(argv)}`);
    return 2;
  }
  if (cli.name === 'help') {
    io.stdout.write(usage);
    return 0;
  }
  // The capabilities are public, as the API's documentation is: no key needed.
  const apiKey = cli.options.apiKey ?? io.env.VEO_API_KEY ?? (cli.name === 'capabilities' ? '' : undefined);
  if (apiKey === undefined || (apiKey === '' && cli.name !== 'capabilities')) {
    io.stderr.write('error: no API key: set VEO_API_KEY or pass --key\n');
    return 2;
  }
  const baseUrl = cli.options.baseUrl ?? io.env.VEO_BASE_URL ?? DEFAULT_BASE_URL;
  const client = new VeoClient({ baseUrl, apiKey, fetch: io.fetch });
  const progress = new ProgressLine(io.stderr);
  try {
    return await execute(cli, client, io, progress);
  } catch (error) {
    progress.end();
    if (error instanceof VeoApiError) {
      if (cli.options.json) writeJson(io, { code: error.code, msg: error.msg, data: error.data });
      io.stderr.write(`error: ${error.msg} (code ${error.code})\n`);
    } else {
      io.stderr.write(
        `error: ${describe(error)}${isNetworkError(error) ? ` (is the API up at ${baseUrl}?)` : ''}\n`,
      );
    }
    return 1;
  }
}

async function execute(
  cli: ParsedCli,
  client: VeoClient,
  io: CliIo,
  progress: ProgressLine,
): Promise<number> {
  const { json } = cli.options;
  /** The API's data as JSON with --json, else readable `key: value` lines. */
  const show = (data: unknown, lines: Lines) => (json ? writeJson(io, data) : writeLines(io, lines));
  const waitOptions = (): WaitOptions => ({
    intervalMs: cli.options.intervalMs,
    timeoutMs: cli.options.timeoutMs,
    onProgress: (p) => progress.update(p),
  });
  /** Prints a finished task (its id already shown by submit commands), saving its video when asked. */
  const finish = async (record: TaskRecord, out: string | undefined, idShown = false): Promise<number> => {
    progress.end();
    const lines = describeRecord(record).slice(idShown ? 1 : 0);
    if (record.successFlag !== 1) {
      show(record, lines);
      io.stderr.write(
        `error: task ${record.taskId} failed (code ${record.errorCode ?? 'none'}): ${record.errorMessage ?? record.state}\n`,
      );
      return 1;
    }
    const saved = out ? await save(client, videoUrl(record), out) : undefined;
    show(record, [...lines, ...(saved ? savedLines(saved) : [])]);
    return 0;
  };

  switch (cli.name) {
    case 'help':
      io.stdout.write(usage);
      return 0;
    case 'credit': {
      const credits = await client.credit();
      show(credits, [['credits', String(credits)]]);
      return 0;
    }
    case 'capabilities': {
      const served = await client.capabilities();
      show(served, describeCapabilities(served));
      return 0;
    }
    case 'status': {
      const record = await client.recordInfo(cli.taskId);
      show(record, describeRecord(record));
      return 0;
    }
    case 'generate':
    case 'extend': {
      const { taskId } =
        cli.name === 'generate' ? await client.generate(cli.request) : await client.extend(cli.request);
      if (!cli.wait || !json) show({ taskId }, [['taskId', taskId]]);
      if (!cli.wait) return 0;
      return finish(await client.waitForTask(taskId, waitOptions()), cli.out, true);
    }
    case 'wait':
      return finish(await client.waitForTask(cli.taskId, waitOptions()), cli.out);
    case 'download': {
      const record = await client.recordInfo(cli.taskId);
      const url = videoUrl(record, cli.index);
      if (record.successFlag !== 1 || !url) {
        io.stderr.write(`error: task ${cli.taskId} has no video to download (state ${record.state})\n`);
        return 1;
      }
      const saved = await save(client, url, cli.out ?? defaultFile(cli.taskId, cli.index));
      show(saved, savedLines(saved));
      return 0;
    }
    case '1080p': {
      let url: string;
      if (cli.wait) {
        url = await client.waitFor1080p(cli.taskId, { ...waitOptions(), index: cli.index });
        progress.end();
      } else {
        const result = await client.get1080p(cli.taskId, cli.index);
        if (!result.ready) {
          show(result, [['state', 'processing']]);
          if (!json) io.stderr.write(`${result.msg}\n`);
          return 0;
        }
        url = result.resultUrl;
      }
      return showRendition(client, show, url, cli.out);
    }
    case '4k': {
      const started = await client.get4k({
        taskId: cli.taskId,
        index: cli.index,
        ...(cli.callBackUrl ? { callBackUrl: cli.callBackUrl } : {}),
      });
      let url = started.resultUrls?.[0];
      if (!url && !cli.wait) {
        show(started, [['state', started.status]]);
        if (!json && started.status === 'processing') io.stderr.write(`${started.msg}\n`);
        return 0;
      }
      if (!url) {
        const rendition = await client.waitFor4k(cli.taskId, { ...waitOptions(), index: cli.index });
        progress.end();
        if (rendition.status !== 'ready' || !rendition.resultUrl) {
          io.stderr.write(`error: the 4K rendition of ${cli.taskId} failed (its credits are refunded)\n`);
          return 1;
        }
        url = rendition.resultUrl;
      }
      return showRendition(client, show, url, cli.out);
    }
  }
}

type Lines = [key: string, value: string][];

async function showRendition(
  client: VeoClient,
  show: (data: unknown, lines: Lines) => void,
  url: string,
  out?: string,
) {
  const saved = out ? await save(client, url, out) : undefined;
  show({ resultUrl: url, ...saved }, [['url', url], ...(saved ? savedLines(saved) : [])]);
  return 0;
}

async function save(client: VeoClient, url: string | undefined, out: string) {
  if (!url) throw new Error('the task has no video URL');
  return client.download(url, out);
}

const savedLines = (saved: { path: string; bytes: number }): Lines => [
  ['file', saved.path],
  ['bytes', String(saved.bytes)],
];

const defaultFile = (taskId: string, index: number) =>
  index > 0 ? `${taskId}-${index}.mp4` : `${taskId}.mp4`;

/** The capabilities in a terminal: per model, then the options, then each rule with its source. */
export function describeCapabilities(served: Capabilities): Lines {
  const lines: Lines = [['upstream', served.upstream]];
  if (!served.models || !served.options || !served.rules) {
    lines.push(['note', 'not in the capability table: nothing is checked at submit']);
    return lines;
  }
  for (const [model, cell] of Object.entries(served.models)) {
    lines.push([
      model,
      `${cell.modes.join(' ')}; ${cell.aspectRatios.join(' ')}; ${cell.resolutions.join(' ')}; ${cell.durations.join('/')} s${cell.lastFrame ? '; last frame' : ''}`,
    ]);
  }
  const o = served.options;
  lines.push([
    'options',
    `generateAudio ${o.generateAudio}, negativePrompt ${o.negativePrompt}, personGeneration ${o.personGeneration}, seeds ${o.seed}, sampleCount ${o.sampleCount.min}-${o.sampleCount.max}`,
  ]);
  for (const rule of served.rules) lines.push(['rule', `${rule.id}: ${rule.reason} (${rule.source})`]);
  return lines;
}

/** The lines of a record worth reading in a terminal. */
export function describeRecord(record: TaskRecord): Lines {
  const lines: Lines = [
    ['taskId', record.taskId],
    ['state', `${record.state} (successFlag ${record.successFlag})`],
  ];
  if (record.successFlag >= 2)
    lines.push(['error', `${record.errorCode ?? ''} ${record.errorMessage ?? ''}`.trim()]);
  // What was asked of the upstream (absent from an older API or kie.ai's own).
  if (record.resolution !== undefined) {
    const videos = record.sampleCount === 1 ? '1 video' : `${record.sampleCount} videos`;
    lines.push([
      'asked',
      `${record.resolution}, ${record.duration} s, ${record.generateAudio ? 'audio' : 'no audio'}, ${videos}`,
    ]);
  }
  if (record.notApplied?.length) lines.push(['not sent', record.notApplied.join(', ')]);
  const full: unknown = record.response?.fullResultUrls;
  for (const url of Array.isArray(full) ? full : []) lines.push(['fullUrl', String(url)]);
  for (const url of record.response?.resultUrls ?? []) lines.push(['url', url]);
  for (const r of record.renditions ?? []) {
    lines.push([`${r.resolution}[${r.index}]`, r.resultUrl ? `${r.status} ${r.resultUrl}` : r.status]);
  }
  return lines;
}

function writeJson(io: CliIo, value: unknown) {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One fixed column, so lines printed at different moments (the taskId, later the result) line up. */
function writeLines(io: CliIo, lines: Lines) {
  io.stdout.write(lines.map(([key, value]) => `${`${key}: `.padEnd(10)}${value}\n`).join(''));
}

/**
 * The waiting line on stderr: rewritten in place every second on a terminal, otherwise one line per
 * change of state so logs stay short.
 */
class ProgressLine {
  private last?: WaitProgress;
  private startedAt = 0;
  private printed = '';
  private ticker?: NodeJS.Timeout;

  constructor(private readonly stream: CliIo['stderr']) {}

  update(progress: WaitProgress) {
    const changed =
      progress.state !== this.last?.state || Boolean(progress.error) !== Boolean(this.last?.error);
    this.last = progress;
    this.startedAt = performance.now() - progress.elapsedMs;
    if (this.stream.isTTY) {
      this.render();
      this.ticker ??= setInterval(() => this.render(), 1000).unref();
    } else if (changed) {
      this.stream.write(`${this.text()}\n`);
    }
  }

  end() {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    if (this.stream.isTTY && this.printed) this.stream.write('\n');
    this.printed = '';
    this.last = undefined;
  }

  private render() {
    this.printed = this.text();
    this.stream.write(`\r\x1b[2K${this.printed}`);
  }

  private text() {
    const p = this.last;
    if (!p) return '';
    const elapsed = Math.floor((performance.now() - this.startedAt) / 1000);
    const clock = `${Math.floor(elapsed / 60)}:${String(elapsed % 60).padStart(2, '0')}`;
    const trouble = p.error ? ` (retrying: ${describe(p.error)})` : '';
    return `${p.taskId}  ${clock}  ${p.state}${trouble}`;
  }
}

function seconds(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number of seconds`);
  return n;
}

function integer(value: string, name: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new UsageError(`--${name} must be a whole number`);
  return Number(value);
}

function wholeNumber(value: string, name: string): number {
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`--${name} must be a whole number from 0`);
  return Number(value);
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError && error.message === 'fetch failed';
}

const invokedDirectly = (() => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
})();

if (invokedDirectly) {
  // Ctrl-C while waiting: end the progress line; the task itself goes on (`wait TASK_ID` resumes).
  process.once('SIGINT', () => {
    process.stderr.write('\n');
    process.exit(130);
  });
  process.exitCode = await runCli(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  });
}
