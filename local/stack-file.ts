import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';

/**
 * A running local stack tells other processes on this machine (the keys tool) where it is: DynamoDB
 * Local listens on a random port, so nothing else could find it. Written once the stack runs, deleted
 * when it stops; a stack killed outright leaves the file behind, which `pid` exposes as stale.
 */
export const publishedStackSchema = z.object({
  pid: z.number().int().positive(),
  /** The gateway, e.g. http://127.0.0.1:8080 (the API is under /api/v1). */
  url: z.url(),
  region: z.string().min(1),
  dynamodbEndpoint: z.url(),
  tables: z.object({ tasks: z.string().min(1), apiKeys: z.string().min(1), counters: z.string().min(1) }),
  startedAt: z.iso.datetime(),
});
export type PublishedStack = z.infer<typeof publishedStackSchema>;

/** Where `npm start` publishes itself: `.data/` in the project, which git ignores. */
export const defaultStackFile = fileURLToPath(new URL('../.data/local-stack.json', import.meta.url));

/** Writes the file (whole or not at all) and returns the function that takes it back. */
export async function publishStack(path: string, stack: PublishedStack): Promise<() => Promise<void>> {
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(partial, `${JSON.stringify(stack, null, 2)}\n`);
  await rename(partial, path);
  return async () => {
    // A second stack started meanwhile has replaced the file: it is theirs to delete.
    const current = await readPublishedStack(path).catch(() => undefined);
    if (current?.pid === stack.pid && current.dynamodbEndpoint === stack.dynamodbEndpoint) {
      await rm(path, { force: true });
    }
  };
}

/** The published stack, or undefined when there is no file; throws on a file that is not one. */
export async function readPublishedStack(path: string): Promise<PublishedStack | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = publishedStackSchema.safeParse(safeJson(text));
  if (!parsed.success) throw new Error(`${path} does not describe a local stack; delete it`);
  return parsed.data;
}

/** Whether the process that published the stack still runs (it may be another user's: EPERM). */
export function isAlive(stack: PublishedStack): boolean {
  try {
    process.kill(stack.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
