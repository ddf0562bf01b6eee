import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

/** The upstream wire formats the simulator speaks, each on its own paths. */
export const shapes = ['gemini', 'vertex', 'kie'] as const;
export type Shape = (typeof shapes)[number];

/** What a route does; fault injection and quotas apply to submits and polls only. */
export type RouteKind = 'submit' | 'poll' | 'download' | 'token';

/** How the request authenticated, as judged by the shape (recorded for tests). */
export type AuthOutcome = 'valid' | 'invalid' | 'missing' | 'not-required';

/** One request as the simulator received it, secrets redacted, for tests to assert field by field. */
export interface RecordedRequest {
  at: number;
  shape: Shape;
  kind: RouteKind;
  method: string;
  /** Path and query string, with a `key` query parameter redacted. */
  path: string;
  headers: Record<string, string>;
  /** Parsed JSON (or form) body; undefined when there was none. */
  body: unknown;
  auth?: AuthOutcome;
  /**
   * The generation (operation, kie task) the request concerns: the one a submit created, the one a poll or
   * download asked for, known here or not (a poll sent to the wrong upstream shows up with its id).
   */
  id?: string;
  /** The HTTP status it was answered with. */
  status?: number;
}

export interface SimRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** The JSON (or urlencoded form) body; undefined when empty or unparsable (see `bodyError`). */
  body: unknown;
  bodyError?: string;
  record: RecordedRequest;
}

export interface Route {
  shape: Shape;
  kind: RouteKind;
  method: 'GET' | 'POST';
  pattern: RegExp;
  /** The generation a poll or download asks for, read before anything else (even while down). */
  idOf?(req: SimRequest, match: RegExpExecArray): string | undefined;
  handle(req: SimRequest, res: ServerResponse, match: RegExpExecArray): Promise<void> | void;
}

export const REDACTED = '<redacted>';

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
  res.end(JSON.stringify(body));
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function parseBody(raw: string, contentType: string | undefined): { body?: unknown; error?: string } {
  if (raw.length === 0) return {};
  if (contentType?.includes('application/x-www-form-urlencoded')) {
    return { body: Object.fromEntries(new URLSearchParams(raw)) };
  }
  try {
    return { body: JSON.parse(raw) as unknown };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Headers as recorded: credentials replaced, the Authorization scheme kept so tests can see it. */
export function redactHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    if (name === 'authorization') out[name] = `${text.split(' ')[0] ?? ''} ${REDACTED}`;
    else if (name === 'x-goog-api-key') out[name] = REDACTED;
    else out[name] = text;
  }
  return out;
}

export function redactPath(url: URL): string {
  const copy = new URL(url);
  if (copy.searchParams.has('key')) copy.searchParams.set('key', REDACTED);
  return `${copy.pathname}${copy.search}`;
}

/** The Bearer token of a request, if any. */
export function bearer(req: SimRequest): string | undefined {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1];
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
