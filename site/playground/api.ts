/** The few calls the playground makes, all to our own API (relative URLs), answered in kie's envelope. */

export interface Rendition {
  resolution: string;
  index: number;
  status: string;
  resultUrl: string | null;
}

/** The fields of GET /api/v1/veo/record-info the page shows. */
export interface TaskRecord {
  taskId: string;
  createTime: number;
  completeTime: number | null;
  successFlag: 0 | 1 | 2 | 3;
  state: 'waiting' | 'success' | 'fail';
  response: {
    resultUrls: string[];
    originUrls: string[];
    fullResultUrls: string[] | null;
    resolution: string;
  } | null;
  errorCode: number | null;
  failMsg: string | null;
  aspectRatio: string;
  seeds: number;
  promptSent: string | null;
  /** What was asked of the upstream, defaults filled in. */
  resolution: string;
  duration: number;
  generateAudio: boolean;
  sampleCount: number;
  /** Fields accepted but not passed on by this upstream (e.g. seeds on the Gemini API). */
  notApplied: string[];
  renditions?: Rendition[];
}

/** One line of GET /api/v1/veo/tasks. */
export interface TaskLine {
  taskId: string;
  createTime: number;
  completeTime: number | null;
  successFlag: number;
  state: 'waiting' | 'success' | 'fail';
  model: string;
  aspectRatio: string;
  prompt: string;
  resultUrls: string[] | null;
  failMsg: string | null;
}

/** An answer whose `code` is not 200; `message` is the API's own `msg`. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export async function call<T>(key: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  let envelope: { code?: unknown; msg?: unknown; data?: unknown };
  try {
    envelope = (await response.json()) as typeof envelope;
  } catch {
    throw new ApiError(response.status, `HTTP ${response.status}: the answer is not JSON`);
  }
  const code = typeof envelope.code === 'number' ? envelope.code : response.status;
  if (code !== 200) throw new ApiError(code, String(envelope.msg ?? `HTTP ${response.status}`));
  return envelope.data as T;
}

export const api = {
  generate: (key: string, body: Record<string, unknown>) =>
    call<{ taskId: string }>(key, 'POST', '/api/v1/veo/generate', body),
  record: (key: string, taskId: string) =>
    call<TaskRecord>(key, 'GET', `/api/v1/veo/record-info?taskId=${encodeURIComponent(taskId)}`),
  tasks: (key: string, limit: number) =>
    call<{ tasks: TaskLine[] }>(key, 'GET', `/api/v1/veo/tasks?limit=${limit}`),
  credit: (key: string) => call<number>(key, 'GET', '/api/v1/chat/credit'),
  get1080p: (key: string, taskId: string) =>
    call<{ resultUrl: string }>(
      key,
      'GET',
      `/api/v1/veo/get-1080p-video?taskId=${encodeURIComponent(taskId)}&index=0`,
    ),
  get4k: (key: string, taskId: string) =>
    call<unknown>(key, 'POST', '/api/v1/veo/get-4k-video', { taskId, index: 0 }),
};
