import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { errors, type KieCode, KieError, toKieError } from '../core/errors';
import type { Log } from '../core/ports';

/** kie.ai's envelope; the HTTP status always equals `code`. */
export function envelope(code: number, msg: string, data: unknown): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: code,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: JSON.stringify({ code, msg, data }),
  };
}

export const ok = (data: unknown) => envelope(200, 'success', data);

/** The one place errors become responses: catalogue errors as they are, anything else as a bare 500. */
export function errorResponse(thrown: unknown, log: Log): APIGatewayProxyStructuredResultV2 {
  const error = toKieError(thrown);
  if (error instanceof KieError) return envelope(error.code, error.message, error.data);
  log.error('unexpected error', {
    error:
      error instanceof Error
        ? { name: error.name, message: error.message, stack: error.stack }
        : String(error),
  });
  const internal = errors.internal();
  return envelope(internal.code satisfies KieCode, internal.message, null);
}

/**
 * How deeply a request body may nest. The contract needs 2 (an object holding imageUrls); anything
 * recursive (hashing, validation, logging) must never meet a body nested thousands deep.
 */
export const JSON_MAX_DEPTH = 32;

/**
 * Whether a JSON text nests deeper than `max` arrays and objects, read without parsing or recursion (the
 * body is refused before anything recursive meets it). Brackets inside strings do not count.
 */
export function jsonNestsDeeperThan(raw: string, max = JSON_MAX_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

const jsonDepthMessage = `The request body nests more than ${JSON_MAX_DEPTH} levels deep`;

/** The request body as JSON; a body that is not JSON is a 422 naming the problem. */
export function jsonBody(event: APIGatewayProxyEventV2): unknown {
  const raw =
    event.body === undefined
      ? ''
      : event.isBase64Encoded
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body;
  if (raw.trim() === '') throw errors.validation('The request body must be a JSON object');
  if (jsonNestsDeeperThan(raw)) throw errors.validation(jsonDepthMessage);
  try {
    return JSON.parse(raw);
  } catch {
    throw errors.validation('The request body is not valid JSON');
  }
}

export function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  return event.headers?.[name.toLowerCase()];
}
