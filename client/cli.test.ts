import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { capabilitiesJson } from '../functions/http/openapi';
import { type FakeApi, type FakeRoute, fail, fakeRecord, ok, startFakeApi } from '../test/support/fake-api';
import { type CliIo, parseCli, runCli, UsageError, usage } from './cli';

describe('parseCli', () => {
  it('builds the generate request from flags, joining the words of the prompt', () => {
    const cli = parseCli([
      'generate',
      'a dog',
      'in a park',
      '--model',
      'veo3',
      '--aspect',
      '9:16',
      '--image',
      'https://x/a.png',
      '--image',
      'https://x/b.png',
      '--type',
      'FIRST_AND_LAST_FRAMES_2_VIDEO',
      '--seed',
      '12345',
      '--watermark',
      'MyBrand',
      '--callback',
      'https://x/cb',
      '--no-translation',
    ]);

    expect(cli).toMatchObject({
      name: 'generate',
      wait: false,
      request: {
        prompt: 'a dog in a park',
        model: 'veo3',
        aspectRatio: '9:16',
        imageUrls: ['https://x/a.png', 'https://x/b.png'],
        generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO',
        seeds: 12345,
        watermark: 'MyBrand',
        callBackUrl: 'https://x/cb',
        enableTranslation: false,
      },
    });
  });

  it("builds the Veo 3.1 options from flags, in the API's field names", () => {
    const cli = parseCli([
      'generate',
      'a lighthouse',
      '--model',
      'veo3_lite',
      '--aspect-ratio',
      '9:16',
      '--resolution',
      '1080p',
      '--duration',
      '8',
      '--no-audio',
      '--negative-prompt',
      'blurry, text',
      '--person-generation',
      'allow_adult',
      '--samples',
      '2',
    ]);
    expect(cli.name === 'generate' && cli.request).toEqual({
      prompt: 'a lighthouse',
      model: 'veo3_lite',
      aspectRatio: '9:16',
      resolution: '1080p',
      duration: 8,
      generateAudio: false,
      negativePrompt: 'blurry, text',
      personGeneration: 'allow_adult',
      sampleCount: 2,
    });
    // --aspect stays as the older spelling; given together they must agree.
    expect(parseCli(['generate', 'x', '--aspect', '9:16', '--aspect-ratio', '9:16'])).toMatchObject({
      request: { aspectRatio: '9:16' },
    });
    expect(
      parseCli([
        'extend',
        'abc',
        'on',
        '--resolution',
        '720p',
        '--no-audio',
        '--person-generation',
        'allow_all',
      ]),
    ).toMatchObject({
      request: { taskId: 'abc', resolution: '720p', generateAudio: false, personGeneration: 'allow_all' },
    });
  });

  it('names every Veo 3.1 flag in the help, veo3_lite among the models', () => {
    for (const flag of [
      '--aspect-ratio',
      '--resolution',
      '--duration',
      '--no-audio',
      '--negative-prompt',
      '--person-generation',
      '--samples',
      'veo3_lite',
    ]) {
      expect(usage, flag).toContain(flag);
    }
  });

  it('sends only the fields given, and --out implies --wait', () => {
    const cli = parseCli(['generate', 'a dog', '-o', 'v.mp4']);

    expect(cli).toMatchObject({ name: 'generate', wait: true, out: 'v.mp4', request: { prompt: 'a dog' } });
    expect(cli.name === 'generate' && Object.keys(cli.request)).toEqual(['prompt']);
    expect(parseCli(['generate', 'x', '--wait'])).toMatchObject({ wait: true, out: undefined });
  });

  it('reads the task commands and the options every command takes', () => {
    expect(parseCli(['status', 'abc'])).toMatchObject({ name: 'status', taskId: 'abc' });
    expect(parseCli(['download', 'abc', '--index', '1'])).toMatchObject({ name: 'download', index: 1 });
    expect(parseCli(['1080p', 'abc', '--wait'])).toMatchObject({
      name: '1080p',
      taskId: 'abc',
      index: 0,
      wait: true,
    });
    expect(parseCli(['4k', 'abc', '--callback', 'https://x/cb'])).toMatchObject({
      name: '4k',
      callBackUrl: 'https://x/cb',
      wait: false,
    });
    expect(
      parseCli(['extend', 'abc', 'the dog', 'jumps', '--model', 'quality', '--seed', '22222']),
    ).toMatchObject({
      name: 'extend',
      request: { taskId: 'abc', prompt: 'the dog jumps', model: 'quality', seeds: 22222 },
    });
    expect(
      parseCli([
        'credit',
        '--json',
        '--key',
        'k',
        '--base-url',
        'http://h',
        '--interval',
        '0.5',
        '--timeout',
        '60',
      ]),
    ).toMatchObject({
      name: 'credit',
      options: { json: true, apiKey: 'k', baseUrl: 'http://h', intervalMs: 500, timeoutMs: 60_000 },
    });
    expect(parseCli([])).toMatchObject({ name: 'help' });
    expect(parseCli(['status', 'abc', '-h'])).toMatchObject({ name: 'help' });
  });

  it.each([
    [['nope'], 'Unknown command "nope"'],
    [['generate'], 'generate needs a PROMPT'],
    [['status'], 'status needs a TASK_ID'],
    [['extend', 'abc'], 'extend needs a PROMPT'],
    [['status', 'abc', 'def'], 'Unexpected argument "def"'],
    [['status', 'abc', '--wait'], 'status does not take --wait'],
    [['generate', 'x', '--seed', 'abc'], '--seed must be a whole number'],
    [['download', 'abc', '--index', '1.5'], '--index must be a whole number from 0'],
    [['wait', 'abc', '--timeout', '0'], '--timeout must be a positive number of seconds'],
    [['generate', 'x', '--bogus'], "Unknown option '--bogus'"],
    [['generate', 'x', '--duration', 'long'], '--duration must be a whole number'],
    [['generate', 'x', '--samples', '1.5'], '--samples must be a whole number'],
    [['generate', 'x', '--aspect', '16:9', '--aspect-ratio', '9:16'], '--aspect and --aspect-ratio differ'],
    [['extend', 'abc', 'x', '--samples', '2'], 'extend does not take --samples'],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseCli(argv)).toThrow(UsageError);
    expect(() => parseCli(argv)).toThrow(message);
  });
});

describe('runCli', () => {
  const KEY = 'secret-key-should-never-show';
  let api: FakeApi | undefined;
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'veo-cli-'));
  });
  afterEach(async () => {
    await api?.stop();
    api = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(argv: string[], routes: Record<string, FakeRoute>, options: { tty?: boolean } = {}) {
    api = await startFakeApi(routes);
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => err.push(t), isTTY: options.tty ?? false },
      env: { VEO_BASE_URL: api.url, VEO_API_KEY: KEY },
    };
    const code = await runCli([...argv, '--interval', '0.02'], io);
    return { code, stdout: out.join(''), stderr: err.join(''), api };
  }

  const mp4 = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom'), Buffer.alloc(512)]);

  it('generate --wait --out: submits, shows one progress line per state, saves the video, exits 0', async () => {
    let polls = 0;
    const { code, stdout, stderr } = await run(
      ['generate', 'a dog in a park', '--wait', '--out', join(dir, 'v.mp4')],
      {
        'POST /api/v1/veo/generate': () => ok({ taskId: 'task_1' }),
        'GET /api/v1/veo/record-info': () =>
          ok(
            ++polls < 3
              ? fakeRecord('queued', { taskId: 'task_1' })
              : fakeRecord('succeeded', { taskId: 'task_1', resultUrls: [`${api?.url}/videos/v.mp4`] }),
          ),
        'GET /videos/v.mp4': () => ({ status: 200, bytes: mp4 }),
      },
    );

    expect(code).toBe(0);
    expect(stdout).toMatch(/^taskId: +task_1\n/);
    expect(stdout.match(/taskId:/g)).toHaveLength(1);
    expect(stdout).toMatch(/state: +success \(successFlag 1\)/);
    expect(stdout).toContain(`file:     ${join(dir, 'v.mp4')}\n`);
    expect(readFileSync(join(dir, 'v.mp4')).subarray(4, 8).toString()).toBe('ftyp');
    // Not a terminal: one line per change of state, not one per poll.
    expect(stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^task_1 {2}0:0\d {2}waiting$/),
      expect.stringMatching(/^task_1 {2}0:0\d {2}success$/),
    ]);
    expect(stdout + stderr).not.toContain(KEY);
  });

  it('rewrites the progress line in place on a terminal', async () => {
    let polls = 0;
    const { code, stderr } = await run(
      ['wait', 'task_1'],
      {
        'GET /api/v1/veo/record-info': () =>
          ok(
            ++polls < 3
              ? fakeRecord('queued', { taskId: 'task_1' })
              : fakeRecord('succeeded', { taskId: 'task_1' }),
          ),
      },
      { tty: true },
    );

    expect(code).toBe(0);
    expect(stderr.startsWith('\r\x1b[2Ktask_1  0:00  waiting')).toBe(true);
    expect(stderr.split('\r\x1b[2K').length).toBeGreaterThanOrEqual(4);
    expect(stderr.endsWith('success\n')).toBe(true);
  });

  it("exits 1 with the API's own message on an error answer; --json also prints the envelope", async () => {
    const msg = 'seeds must be an integer between 10000 and 99999';
    const { code, stdout, stderr } = await run(['generate', 'x', '--seed', '5', '--json'], {
      'POST /api/v1/veo/generate': () => fail(422, msg),
    });

    expect(code).toBe(1);
    expect(stderr).toBe(`error: ${msg} (code 422)\n`);
    expect(JSON.parse(stdout)).toEqual({ code: 422, msg, data: null });
  });

  it('exits 1 with the reason when the task fails', async () => {
    const failed = fakeRecord('rejected', {
      taskId: 'task_2',
      task: { errorCode: 422, errorMessage: 'Your request was rejected by Flow(unsafe).' },
    });
    const { code, stdout, stderr } = await run(['wait', 'task_2'], {
      'GET /api/v1/veo/record-info': () => ok(failed),
    });

    expect(code).toBe(1);
    expect(stdout).toMatch(/state: +fail \(successFlag 3\)/);
    expect(stderr).toContain(
      'error: task task_2 failed (code 422): Your request was rejected by Flow(unsafe).',
    );
  });

  it('exits 2 without a key, and never needs the network for it', async () => {
    const err: string[] = [];
    const code = await runCli(['credit'], {
      stdout: { write: () => true },
      stderr: { write: (t: string) => err.push(t) },
      env: {},
    });

    expect(code).toBe(2);
    expect(err.join('')).toContain('set VEO_API_KEY or pass --key');
  });

  it('credit and status print the data; --json prints it raw', async () => {
    const record = fakeRecord('succeeded', { taskId: 'task_3' });
    const credit = await run(['credit'], { 'GET /api/v1/chat/credit': () => ok(1234) });
    await api?.stop();
    const status = await run(['status', 'task_3', '--json'], {
      'GET /api/v1/veo/record-info': () => ok(record),
    });

    expect([credit.code, credit.stdout]).toEqual([0, 'credits:  1234\n']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual(record);
  });

  it("generate sends the options and shows what was asked, and what this upstream did not take; a refusal shows the API's message", async () => {
    const record = fakeRecord('succeeded', {
      taskId: 'task_9',
      task: {
        asked: { resolution: '1080p', durationSeconds: 8, generateAudio: true, sampleCount: 1 },
        notApplied: ['seeds'],
      },
    });
    const done = await run(
      [
        'generate',
        'a lighthouse',
        '--model',
        'veo3_lite',
        '--resolution',
        '1080p',
        '--seed',
        '12345',
        '--wait',
      ],
      {
        'POST /api/v1/veo/generate': () => ok({ taskId: 'task_9' }),
        'GET /api/v1/veo/record-info': () => ok(record),
      },
    );
    expect(done.code).toBe(0);
    expect(done.api.requests[0]?.body).toEqual({
      prompt: 'a lighthouse',
      model: 'veo3_lite',
      resolution: '1080p',
      seeds: 12345,
    });
    expect(done.stdout).toContain('asked:    1080p, 8 s, audio, 1 video\n');
    expect(done.stdout).toContain('not sent: seeds\n');
    await api?.stop();

    const msg = 'resolution 4k is not available on veo3_lite (gemini)';
    const refused = await run(['generate', 'x', '--model', 'veo3_lite', '--resolution', '4k'], {
      'POST /api/v1/veo/generate': () => fail(422, msg),
    });
    expect([refused.code, refused.stderr]).toEqual([1, `error: ${msg} (code 422)\n`]);
  });

  it("capabilities prints the upstream's models, options and each rule with its source, with no key needed", async () => {
    const served = JSON.parse(capabilitiesJson('gemini'));
    api = await startFakeApi({ 'GET /api/v1/capabilities.json': () => ({ status: 200, json: served }) });
    const out: string[] = [];
    const io: CliIo = {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: () => true },
      env: { VEO_BASE_URL: api.url },
    };
    expect(await runCli(['capabilities'], io)).toBe(0);
    const text = out.join('');
    expect(text).toContain('upstream: gemini\n');
    expect(text).toContain(
      'veo3_lite: TEXT_2_VIDEO FIRST_AND_LAST_FRAMES_2_VIDEO; 16:9 9:16; 720p 1080p; 4/6/8 s\n',
    );
    expect(text).toContain(
      'rule:     hd-needs-8s: 1080p and 4k need 8 seconds (https://ai.google.dev/gemini-api/docs/video)\n',
    );
    expect(api.requests[0]?.headers.authorization).toBeUndefined();
    out.length = 0;
    expect(await runCli(['capabilities', '--json'], io)).toBe(0);
    expect(JSON.parse(out.join(''))).toEqual(served);
  });

  it('1080p without --wait reports "processing"; with --out it waits and saves the file', async () => {
    const processing = fail(400, '1080P is processing. It should be ready in 1-2 minutes.');
    const once = await run(['1080p', 'task_1'], { 'GET /api/v1/veo/get-1080p-video': () => processing });
    await api?.stop();
    let asks = 0;
    const waited = await run(['1080p', 'task_1', '--out', join(dir, 'hd.mp4')], {
      'GET /api/v1/veo/get-1080p-video': () =>
        ++asks < 3 ? processing : ok({ resultUrl: `${api?.url}/hd.mp4` }),
      'GET /hd.mp4': () => ({ status: 200, bytes: mp4 }),
    });

    expect([once.code, once.stdout]).toEqual([0, 'state:    processing\n']);
    expect(once.stderr).toContain('1080P is processing');
    expect(waited.code).toBe(0);
    expect(waited.stdout).toContain(`file:     ${join(dir, 'hd.mp4')}\n`);
    expect(waited.stderr).toMatch(/task_1 {2}0:0\d {2}processing\n/);
    expect(readFileSync(join(dir, 'hd.mp4')).length).toBe(mp4.length);
  });

  it('4k --wait starts the rendition, then follows it in record-info; a failed one exits 1', async () => {
    let polls = 0;
    const renditions = (status: string, resultUrl: string | null) => [
      { resolution: '4k', index: 0, status, resultUrl, made: 'upscaled' as const },
    ];
    const ready = await run(['4k', 'task_1', '--wait'], {
      'POST /api/v1/veo/get-4k-video': () => ok({ taskId: 'task_1', resultUrls: null, imageUrls: null }),
      'GET /api/v1/veo/record-info': () =>
        ok(
          fakeRecord('succeeded', {
            renditions: ++polls < 2 ? renditions('processing', null) : renditions('ready', 'http://x/4k.mp4'),
          }),
        ),
    });
    await api?.stop();
    const failed = await run(['4k', 'task_1', '--wait'], {
      'POST /api/v1/veo/get-4k-video': () =>
        fail(422, '4k is processing. It should be ready in 5-10 minutes.'),
      'GET /api/v1/veo/record-info': () =>
        ok(fakeRecord('succeeded', { renditions: renditions('failed', null) })),
    });

    expect([ready.code, ready.stdout]).toEqual([0, 'url:      http://x/4k.mp4\n']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('the 4K rendition of task_1 failed');
  });

  it('extend submits the continuation and, with --wait, follows the new task', async () => {
    const { code, stdout, api } = await run(['extend', 'task_1', 'the dog jumps', '--wait'], {
      'POST /api/v1/veo/extend': () => ok({ taskId: 'ext_1' }),
      'GET /api/v1/veo/record-info': () => ok(fakeRecord('succeeded', { taskId: 'ext_1' })),
    });

    expect(code).toBe(0);
    expect(stdout).toMatch(/^taskId: +ext_1\n/);
    expect(api.requests[0]?.body).toEqual({ taskId: 'task_1', prompt: 'the dog jumps' });
    expect(api.requests[1]?.query).toEqual({ taskId: 'ext_1' });
  });
});
