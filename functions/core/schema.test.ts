import { describe, expect, it } from 'vitest';
import {
  describeIssue,
  extendRequestSchema,
  fourKRequestSchema,
  generateRequestSchema,
  IGNORED_FIELD_MAX_CHARS,
  IMAGES_MAX,
  PROMPT_MAX_CHARS,
  PROMPT_MAX_RAW_UNITS,
  URL_MAX_CHARS,
  WATERMARK_MAX_CHARS,
} from './schema';
import { newTask } from './task';

const deployed = generateRequestSchema({ allowLoopback: false, allowHttp: false });
const local = generateRequestSchema({ allowLoopback: true, allowHttp: true });

function problem(body: unknown, schema = deployed): string | undefined {
  const parsed = schema.safeParse(body);
  return parsed.success ? undefined : describeIssue(parsed.error);
}

describe('generate request schema', () => {
  it('fills in the defaults of a minimal request', () => {
    const parsed = deployed.parse({ prompt: '  A dog playing in a park  ' });
    expect(parsed).toEqual({
      prompt: 'A dog playing in a park',
      imageUrls: [],
      model: 'veo3_fast',
      generationType: 'TEXT_2_VIDEO',
      aspectRatio: '16:9',
      seeds: undefined,
      watermark: undefined,
      callBackUrl: undefined,
      enableTranslation: true,
    });
  });

  it("accepts the kie.ai document's example request (minus images), ignoring unknown and deprecated fields", () => {
    const parsed = deployed.parse({
      prompt: 'A dog playing in a park',
      model: 'veo3_fast',
      watermark: 'MyBrand',
      callBackUrl: 'https://example.com/complete',
      aspectRatio: '16:9',
      seeds: 12345,
      enableFallback: false,
      enableTranslation: true,
      somethingElse: { nested: true },
    });
    expect(parsed.seeds).toBe(12345);
    expect(parsed.watermark).toBe('MyBrand');
    expect(parsed).not.toHaveProperty('somethingElse');
    expect(parsed).not.toHaveProperty('enableFallback');
  });

  it.each([
    [{}, 'prompt is required'],
    [{ prompt: 42 }, 'prompt must be a string'],
    [{ prompt: '   ' }, 'prompt must not be empty'],
    [{ prompt: 'x'.repeat(5001) }, 'prompt must be at most 5000 characters'],
    [{ prompt: 'p', model: 'veo4' }, 'model must be one of veo3, veo3_fast'],
    [{ prompt: 'p', aspectRatio: '4:3' }, 'aspectRatio must be one of 16:9, 9:16, Auto'],
    [{ prompt: 'p', generationType: 'IMAGE' }, 'generationType must be one of'],
    [{ prompt: 'p', seeds: 9999 }, 'seeds must be an integer between 10000 and 99999'],
    [{ prompt: 'p', seeds: 100000 }, 'seeds must be an integer between 10000 and 99999'],
    [{ prompt: 'p', seeds: 12345.5 }, 'seeds must be an integer between 10000 and 99999'],
    [{ prompt: 'p', seeds: '12345' }, 'seeds must be an integer between 10000 and 99999'],
    [{ prompt: 'p', watermark: 'w'.repeat(101) }, 'watermark must be at most 100 characters'],
    [{ prompt: 'p', enableTranslation: 'yes' }, 'enableTranslation must be a boolean'],
    [{ prompt: 'p', imageUrls: 'https://example.com/a.png' }, 'imageUrls must be an array'],
    [{ prompt: 'p', imageUrls: ['not a url'] }, 'imageUrls[0] must be an absolute http(s) URL'],
    [{ prompt: 'p', imageUrls: ['ftp://example.com/a.png'] }, 'imageUrls[0] must be an absolute http(s) URL'],
    [{ prompt: 'p', callBackUrl: 'example.com/cb' }, 'callBackUrl must be an absolute http(s) URL'],
    [{ prompt: 'p', callBackUrl: 'http://example.com/cb' }, 'callBackUrl must use https'],
    [{ prompt: 'p', callBackUrl: 'https://10.0.0.1/cb' }, 'callBackUrl must not point to a private address'],
    [
      { prompt: 'p', callBackUrl: 'https://127.0.0.1/cb' },
      'callBackUrl must not point to a loopback address',
    ],
    [
      { prompt: 'p', callBackUrl: 'https://localhost/cb' },
      'callBackUrl must not point to a loopback address',
    ],
    [
      { prompt: 'p', callBackUrl: 'https://169.254.169.254/latest' },
      'callBackUrl must not point to a link-local',
    ],
    [
      { prompt: 'p', callBackUrl: 'https://2130706433/cb' },
      'callBackUrl must not point to a loopback address',
    ],
    [
      { prompt: 'p', generationType: 'TEXT_2_VIDEO', imageUrls: ['https://example.com/a.png'] },
      'imageUrls must be empty for TEXT_2_VIDEO',
    ],
    [
      { prompt: 'p', generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO' },
      'imageUrls must hold 1 or 2 images for FIRST_AND_LAST_FRAMES_2_VIDEO',
    ],
    [
      {
        prompt: 'p',
        imageUrls: ['https://e.com/1', 'https://e.com/2', 'https://e.com/3', 'https://e.com/4'],
      },
      'imageUrls must hold 1 to 3 images for REFERENCE_2_VIDEO',
    ],
    [
      { prompt: 'p', generationType: 'REFERENCE_2_VIDEO', imageUrls: ['https://e.com/1'], model: 'veo3' },
      'model must be veo3_fast for REFERENCE_2_VIDEO',
    ],
    [
      {
        prompt: 'p',
        generationType: 'REFERENCE_2_VIDEO',
        imageUrls: ['https://e.com/1'],
        aspectRatio: '9:16',
      },
      'aspectRatio must be 16:9 for REFERENCE_2_VIDEO',
    ],
    [[1, 2], 'The request body must be a JSON object'],
    ['a string', 'The request body must be a JSON object'],
  ])('refuses %j: "%s"', (body, message) => {
    expect(problem(body)).toContain(message);
  });

  it('infers the generation type from the number of images', () => {
    const one = deployed.parse({ prompt: 'p', imageUrls: ['https://e.com/1'] });
    const three = deployed.parse({
      prompt: 'p',
      imageUrls: ['https://e.com/1', 'https://e.com/2', 'https://e.com/3'],
    });
    expect(one.generationType).toBe('FIRST_AND_LAST_FRAMES_2_VIDEO');
    expect(three.generationType).toBe('REFERENCE_2_VIDEO');
  });

  it('counts prompt characters, not UTF-16 units', () => {
    expect(problem({ prompt: '🎬'.repeat(5000) })).toBeUndefined();
    expect(problem({ prompt: '🎬'.repeat(5001) })).toContain('at most 5000 characters');
  });

  it('treats null optional fields as absent', () => {
    expect(deployed.parse({ prompt: 'p', seeds: null, imageUrls: null, model: null }).model).toBe(
      'veo3_fast',
    );
  });

  it('allows loopback and http callbacks only in the local stack, and metadata addresses never', () => {
    expect(problem({ prompt: 'p', callBackUrl: 'http://127.0.0.1:9000/cb' }, local)).toBeUndefined();
    expect(problem({ prompt: 'p', callBackUrl: 'http://localhost:9000/cb' }, local)).toBeUndefined();
    expect(problem({ prompt: 'p', callBackUrl: 'http://169.254.169.254/' }, local)).toContain('link-local');
    expect(problem({ prompt: 'p', callBackUrl: 'http://[fd00:ec2::254]/' }, local)).toContain(
      'must not point',
    );
    expect(problem({ prompt: 'p', callBackUrl: 'http://[::ffff:10.0.0.1]/' }, local)).toContain('private');
  });
});

/** A URL of exactly `length` characters (the host stays short, the path fills the rest). */
const urlOf = (length: number, fill = 'a') => {
  const head = 'https://example.com/';
  return head + fill.repeat(length - head.length);
};

describe('input caps (issue 14): every field bounded, refused as 422 naming the field', () => {
  const policy = { allowLoopback: false, allowHttp: false };

  it(`refuses every URL over ${URL_MAX_CHARS} characters, before the guard parses it`, () => {
    expect(problem({ prompt: 'p', callBackUrl: urlOf(URL_MAX_CHARS) })).toBeUndefined();
    expect(problem({ prompt: 'p', callBackUrl: urlOf(URL_MAX_CHARS + 1) })).toBe(
      `callBackUrl must be at most ${URL_MAX_CHARS} characters`,
    );
    expect(problem({ prompt: 'p', imageUrls: ['https://e.com/1', urlOf(URL_MAX_CHARS + 1)] })).toBe(
      `imageUrls[1] must be at most ${URL_MAX_CHARS} characters`,
    );
    // Just under DynamoDB's 400 KB item: once accepted, charged, and then unwritable.
    expect(problem({ prompt: 'p', callBackUrl: urlOf(399 * 1024) })).toBe(
      `callBackUrl must be at most ${URL_MAX_CHARS} characters`,
    );
    const fourK = fourKRequestSchema(policy).safeParse({ taskId: 'veo_1', callBackUrl: urlOf(3000) });
    expect(fourK.success ? undefined : describeIssue(fourK.error)).toBe(
      `callBackUrl must be at most ${URL_MAX_CHARS} characters`,
    );
    const extend = extendRequestSchema(policy).safeParse({
      taskId: 'veo_1',
      prompt: 'p',
      callBackUrl: urlOf(3000),
    });
    expect(extend.success ? undefined : describeIssue(extend.error)).toBe(
      `callBackUrl must be at most ${URL_MAX_CHARS} characters`,
    );
  });

  it('bounds what paramJson keeps as sent: whitespace around the prompt and the task id, the ignored field', () => {
    expect(problem({ prompt: ` p${' '.repeat(PROMPT_MAX_RAW_UNITS - 3)}` })).toBeUndefined();
    expect(problem({ prompt: ` p${' '.repeat(PROMPT_MAX_RAW_UNITS)}` })).toMatch(
      /^prompt must be at most 5000 characters/,
    );
    expect(problem({ prompt: 'p', enableFallback: true })).toBeUndefined();
    expect(problem({ prompt: 'p', enableFallback: 'x'.repeat(IGNORED_FIELD_MAX_CHARS) })).toBe(
      'enableFallback must be a boolean (it is ignored)',
    );
    const extend = extendRequestSchema(policy).safeParse({ taskId: ` veo_1${' '.repeat(300)}`, prompt: 'p' });
    expect(extend.success ? undefined : describeIssue(extend.error)).toBe('taskId is not a valid task id');
  });

  it('stops a long list of images before looking at each', () => {
    expect(problem({ prompt: 'p', imageUrls: Array(100_000).fill('not a url') })).toBe(
      `imageUrls must hold at most ${IMAGES_MAX} images`,
    );
  });

  it("keeps the largest task a valid request can make well inside DynamoDB's 400 KB item", () => {
    // Prepare: the worst case the bounds allow, with the characters that cost the most bytes. In DynamoDB
    // a string costs its UTF-8 bytes (at most 3 per UTF-16 unit; a lone surrogate becomes U+FFFD, 3 bytes);
    // in paramJson (JSON text) a control character costs 6 ("\u0001"). Each field takes its dearest form.
    const control = '\u0001';
    const padding = '\u000b'; // vertical tab: trimmed away, escaped as 6 bytes in JSON
    const prompt = `${padding.repeat(PROMPT_MAX_RAW_UNITS - PROMPT_MAX_CHARS)}${'界'.repeat(PROMPT_MAX_CHARS - 1)}${control}`;
    const url = urlOf(URL_MAX_CHARS, control);
    const body = {
      prompt,
      imageUrls: Array(IMAGES_MAX).fill(url),
      model: 'veo3_fast',
      generationType: 'REFERENCE_2_VIDEO',
      aspectRatio: '16:9',
      seeds: 99999,
      watermark: control.repeat(WATERMARK_MAX_CHARS),
      callBackUrl: url,
      enableTranslation: false,
      enableFallback: 'x'.repeat(IGNORED_FIELD_MAX_CHARS - 2),
    };
    const parsed = generateRequestSchema({ allowLoopback: false, allowHttp: false }).safeParse(body);
    expect(parsed.success ? undefined : describeIssue(parsed.error)).toBeUndefined();
    if (!parsed.success) return;

    // Act: the task as submit writes it (paramJson is the body's contract fields, as sent).
    const task = newTask({
      request: parsed.data,
      paramJson: JSON.stringify(body),
      keyHash: 'f'.repeat(64),
      credits: 400,
      provider: 'vertex',
      now: Date.now(),
      retentionDays: 14,
      budgetSeconds: 3600,
    });
    const size = dynamoItemBytes(task);

    // Assess: the request's share of the item, both ways it is stored, and the room left for the
    // lifecycle's own fields (results, callbacks, renditions, error, translated prompt).
    const bound =
      // prompt: trimmed in request (3 bytes a unit) and as sent in paramJson (6 bytes a unit)
      PROMPT_MAX_CHARS * 2 * 3 +
      PROMPT_MAX_RAW_UNITS * 6 +
      // four URLs, each in request (3) and in paramJson (6)
      (IMAGES_MAX + 1) * URL_MAX_CHARS * (3 + 6) +
      // watermark both ways (a code point is at most 2 units), the ignored field, the rest
      WATERMARK_MAX_CHARS * 2 * (3 + 6) +
      IGNORED_FIELD_MAX_CHARS +
      2 * 1024;
    expect(size).toBeLessThanOrEqual(bound);
    expect(size).toBeGreaterThan(0.5 * bound); // the worst case above is near the bound, not a toy
    expect(bound).toBeLessThan(200 * 1024);
  });
});

/**
 * An item's size as DynamoDB counts it: attribute names and string values in UTF-8 bytes, numbers at
 * most 21 bytes, booleans and nulls 1, lists and maps 3 plus 1 per element (and their keys).
 */
function dynamoItemBytes(item: object): number {
  const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');
  const value = (v: unknown): number => {
    if (typeof v === 'string') return utf8(v);
    if (typeof v === 'number') return 21;
    if (typeof v === 'boolean' || v === null) return 1;
    if (Array.isArray(v)) return 3 + v.reduce((n: number, e) => n + 1 + value(e), 0);
    if (typeof v === 'object')
      return (
        3 +
        Object.entries(v as object)
          .filter(([, e]) => e !== undefined)
          .reduce((n, [k, e]) => n + 1 + utf8(k) + value(e), 0)
      );
    return 0;
  };
  return Object.entries(item)
    .filter(([, v]) => v !== undefined)
    .reduce((n, [k, v]) => n + utf8(k) + value(v), 0);
}
