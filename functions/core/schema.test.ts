import { describe, expect, it } from 'vitest';
import { describeIssue, generateRequestSchema } from './schema';

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
