import { createHash } from 'node:crypto';
import { errors } from '../errors';

/** How long an Idempotency-Key keeps answering with the task it made (SPEC §2: 24 h). */
export const idempotencyTtlSeconds = 24 * 60 * 60;

/** 1–255 visible ASCII characters (as header values go, no spaces or control characters). */
const validKey = /^[\x21-\x7e]{1,255}$/;

/** The header's value, checked; undefined when the client sent none. */
export function parseIdempotencyKey(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!validKey.test(value)) throw errors.idempotencyKeyInvalid();
  return value;
}

/**
 * What makes two submits "the same request": the route and the body, with object keys in a fixed
 * order so that re-serialising the same JSON differently is still the same request.
 */
export function requestHash(route: string, body: unknown): string {
  return createHash('sha256').update(route).update('\n').update(canonicalJson(body)).digest('hex');
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
