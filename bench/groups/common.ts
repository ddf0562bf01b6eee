import { writeFile } from 'node:fs/promises';
import { figure, type Results } from '../results';

/**
 * What the groups in this folder share. Each group runs in a process of its own (the handlers read their
 * configuration once, at import), started by bench/run.ts as `node --import tsx bench/groups/<group>.ts
 * <results file>`, and writes its figures there.
 */
export async function runGroup(name: string, measure: () => Promise<Results>): Promise<void> {
  // The last argument, after a group's own options (pool's --real).
  const out = process.argv.slice(2).at(-1);
  if (!out || out.startsWith('--'))
    throw new Error(`usage: node --import tsx bench/groups/${name}.ts [options] <results file>`);
  const results = await measure();
  // From this process's start: what the group costs the whole `npm run bench`, stack start-up included.
  results[`${name}.group-time`] = figure(performance.now() / 1000, 's');
  await writeFile(out, JSON.stringify(results));
  process.exit(0);
}

/** record-info as a client reads it (the fields the groups look at). */
export interface RecordData {
  successFlag?: number;
  completeTime?: number | null;
  errorCode?: number | null;
  errorMessage?: string | null;
  response?: { resultUrls?: string[] } | null;
}

export function apiCalls(url: string, apiKey: string) {
  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  return {
    async generate(body: unknown): Promise<{ status: number; taskId?: string }> {
      const response = await fetch(`${url}/api/v1/veo/generate`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
      });
      const json = (await response.json()) as { data?: { taskId?: string } };
      return { status: response.status, taskId: json.data?.taskId };
    },
    /** The record, or null when the API does not know the task. */
    async record(taskId: string): Promise<RecordData | null> {
      const response = await fetch(`${url}/api/v1/veo/record-info?taskId=${taskId}`, { headers });
      const json = (await response.json()) as { data?: RecordData | null };
      return json.data ?? null;
    },
    async credit(): Promise<number> {
      const response = await fetch(`${url}/api/v1/chat/credit`, { headers });
      return ((await response.json()) as { data: number }).data;
    },
  };
}

/** Runs `work` over `items`, `concurrency` at a time. */
export async function eachLimited<T>(
  items: T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await work(items[index] as T, index);
      }
    }),
  );
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
