import { describe, expect, it } from 'vitest';
import { KieError } from '../errors';
import { canonicalJson, parseIdempotencyKey, requestHash } from './idempotency';

describe('parseIdempotencyKey', () => {
  it('passes 1 to 255 visible ASCII characters through, and no header as none', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
    expect(parseIdempotencyKey('a')).toBe('a');
    expect(parseIdempotencyKey('x'.repeat(255))).toBe('x'.repeat(255));
    expect(parseIdempotencyKey('order-42:{retry}~')).toBe('order-42:{retry}~');
  });

  it.each(['', 'x'.repeat(256), 'has space', 'tab\t', 'naïve', 'line\nbreak', '\u0000'])(
    'answers %j with 422',
    (value) => {
      expect(() => parseIdempotencyKey(value)).toThrow(KieError);
      try {
        parseIdempotencyKey(value);
      } catch (error) {
        expect((error as KieError).code).toBe(422);
      }
    },
  );
});

describe('requestHash', () => {
  it('is the same for the same JSON written in another key order', () => {
    const a = { prompt: 'p', seeds: 1, nested: { b: [1, { y: 2, x: 1 }], a: null } };
    const b = { nested: { a: null, b: [1, { x: 1, y: 2 }] }, seeds: 1, prompt: 'p' };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(requestHash('generate', a)).toBe(requestHash('generate', b));
  });

  it('differs for another body, another array order or another route', () => {
    const body = { prompt: 'p', imageUrls: ['a', 'b'] };
    expect(requestHash('generate', body)).not.toBe(requestHash('generate', { ...body, prompt: 'q' }));
    expect(requestHash('generate', body)).not.toBe(
      requestHash('generate', { ...body, imageUrls: ['b', 'a'] }),
    );
    expect(requestHash('generate', body)).not.toBe(requestHash('extend', body));
  });
});
