import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../functions/core/api-keys';
import { generateRequestSchema } from '../../functions/core/schema';
import { newTask } from '../../functions/core/task';
import { EXAMPLE_TASK_ID } from '../../functions/http/openapi';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { apiClient, localDeps } from './support';

/**
 * What /docs "Try it out" sends: every operation of the served OpenAPI document, called with each of
 * its own examples (every named body example, and the query parameters) on the local stack, must answer
 * a 200 envelope. The stack's upstream (the simulator, speaking the Gemini API) decides which request
 * examples the document lists; each one listed must then be honoured.
 *
 * A taskId names a real task of the caller's, so no document can hold one that works everywhere. The
 * examples use EXAMPLE_TASK_ID and the document says, next to it, which task to put in its place; this
 * test does exactly that and nothing more: it puts the id of a task it made by sending generate's own
 * example (and waiting for it to finish) in place of EXAMPLE_TASK_ID, or, where the document asks for
 * "a queued task" (cancel), the id of a task written to the table without a queue message, so no worker
 * takes it. get-1080p-video answers 400 "processing" until the rendition is made, as kie.ai's does: that
 * one call is repeated until it answers 200. Every other value is sent as the document gives it.
 */
let stack: RunningLocalStack;
let deps: Awaited<ReturnType<typeof localDeps>>;

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, simulatorLatencyMs: 300, pollIntervalSeconds: 1 });
  deps = await localDeps();
}, 90_000);
afterAll(async () => {
  await stack?.stop();
});

interface DocumentedOperation {
  description?: string;
  security?: unknown[];
  parameters?: { name: string; required: boolean; example?: string; description?: string }[];
  requestBody?: {
    content: { 'application/json': { examples?: Record<string, { value: Record<string, unknown> }> } };
  };
}
type Paths = Record<string, Record<string, DocumentedOperation>>;

/** A task of the stack's key written straight to the table: it stays queued, so it can be cancelled. */
async function queuedTask(): Promise<string> {
  const body = { prompt: 'a task no worker takes' };
  const task = newTask({
    request: generateRequestSchema(deps.settings.urlPolicy).parse(body),
    paramJson: JSON.stringify(body),
    keyHash: hashApiKey(stack.apiKey),
    credits: 100,
    provider: 'simulator',
    now: Date.now(),
    retentionDays: 14,
    budgetSeconds: 600,
  });
  await deps.tasks.createCharged(task, { keyHash: task.keyHash, credits: task.credits });
  return task.taskId;
}

describe('OpenAPI examples on the local stack', () => {
  it('answers 200 to every operation sent with its own example', async () => {
    const client = apiClient(stack);
    const served = await fetch(`${stack.url}/api/v1/openapi.json`);
    const document = (await served.json()) as { paths: Paths };
    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
    );
    expect(operations.length).toBeGreaterThanOrEqual(9);

    const generate = document.paths['/api/v1/veo/generate']?.post;
    const examplesOf = (op: DocumentedOperation) =>
      Object.entries(op.requestBody?.content['application/json'].examples ?? {});
    const [first] = generate ? examplesOf(generate) : [];
    const finished = await client.generate(first?.[1].value);
    await client.waitForRecord(finished);
    const queued = await queuedTask();

    const results: Record<string, number> = {};
    type Send = {
      method: string;
      path: string;
      op: DocumentedOperation;
      name: string;
      body?: Record<string, unknown>;
    };
    const sends = operations.flatMap(({ method, path, op }): Send[] =>
      op.requestBody
        ? examplesOf(op).map(([name, example]) => ({ method, path, op, name, body: example.value }))
        : [{ method, path, op, name: '', body: undefined }],
    );
    // Generate and extend each list more than one (the Veo 3.1 fields); the others one.
    expect(sends.length).toBeGreaterThan(operations.length + 3);
    for (const { method, path, op, name, body } of sends) {
      // The document's own words pick the stand-in: cancel asks for a queued task, the others a finished one.
      const notes = [op.description ?? '', ...(op.parameters ?? []).map((p) => p.description ?? '')];
      const taskId = notes.some((note) => note.includes('a queued task')) ? queued : finished;
      const swap = (value: unknown) => (value === EXAMPLE_TASK_ID ? taskId : value);
      if (op.requestBody) expect(body, `${method} ${path} has no body example`).toBeDefined();
      const query = new URLSearchParams();
      for (const p of op.parameters ?? []) {
        if (p.required) expect(p.example, `${method} ${path} ${p.name}`).toBeDefined();
        if (p.example !== undefined) query.set(p.name, String(swap(p.example)));
      }
      const sent = body && Object.fromEntries(Object.entries(body).map(([k, v]) => [k, swap(v)]));
      const url = `${path}${query.size > 0 ? `?${query}` : ''}`;

      if (op.security?.length === 0) {
        // The public document itself: answered as is, not in the envelope.
        const response = await fetch(`${stack.url}${url}`);
        results[`${method} ${path}`] = response.status;
        expect(response.status, `${method} ${path}`).toBe(200);
        continue;
      }
      const deadline = Date.now() + 45_000;
      for (;;) {
        const { json } = await client.call(method, url, sent === undefined ? {} : { body: sent });
        results[`${method} ${path} ${name}`.trim()] = json.code;
        if (json.code !== 400 || !path.endsWith('get-1080p-video') || Date.now() > deadline) {
          expect(json, `${method} ${url} ${name}`).toMatchObject({ code: 200, msg: 'success' });
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }

    expect(results).toEqual(
      Object.fromEntries(sends.map((o) => [`${o.method} ${o.path} ${o.name}`.trim(), 200])),
    );
    // The cancelled task reads as cancelled: the example reached the task it was meant for.
    expect(await client.record(queued)).toMatchObject({ successFlag: 2, errorCode: 400 });
  }, 120_000);
});
