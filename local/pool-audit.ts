import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { QuotaOption } from '../simulator/operations';
import type { LocalUpstream } from './stack';

/**
 * What a pool's simulators saw, checked against what record-info says of each task (the e2e test and the
 * benchmark read the same): every task generated exactly once, on the upstream it names, and every poll
 * and download of it sent there. Tasks are matched to generations by prompt, so each must be unique.
 */
export interface PooledTask {
  taskId: string;
  prompt: string;
  /** record-info's `upstream`. */
  upstream: string | null;
}

export interface UpstreamTraffic {
  /** Tasks whose one generation is here. */
  tasks: number;
  /** Submits it accepted (a generation each). */
  accepted: number;
  /** Submits it refused for its own quota (429): the workers' quota accounting let one through too many. */
  quota429s: number;
  /** Requests answered 503: while it was down (or a fault injected). */
  unavailable: number;
  polls: number;
  downloads: number;
}

export interface PoolAudit {
  /** Tasks generated more than once, over all upstreams (a double generation, billed twice). */
  duplicated: PooledTask[];
  /** Tasks no upstream generated. */
  missing: PooledTask[];
  /** Tasks generated on an upstream other than the one record-info names. */
  misplaced: PooledTask[];
  /** Polls and downloads an upstream received for a generation it does not have (sent to the wrong one). */
  stray: { upstream: string; kind: string; id: string | undefined }[];
  /** Tasks whose upstream received no poll or download of it (so pinning was not shown for them). */
  unobserved: PooledTask[];
  perUpstream: Record<string, UpstreamTraffic>;
}

export function auditPool(upstreams: Record<string, LocalUpstream>, tasks: PooledTask[]): PoolAudit {
  const byPrompt = new Map<string, { upstream: string; id: string }[]>();
  const perUpstream: Record<string, UpstreamTraffic> = {};
  const stray: PoolAudit['stray'] = [];
  const observed = new Set<string>();
  for (const [name, simulator] of Object.entries(upstreams)) {
    const generations = simulator.generations();
    const own = new Set(generations.map((g) => g.id));
    for (const g of generations) {
      byPrompt.set(g.prompt, [...(byPrompt.get(g.prompt) ?? []), { upstream: name, id: g.id }]);
    }
    const traffic: UpstreamTraffic = {
      tasks: 0,
      accepted: generations.length,
      quota429s: simulator.stats.refused.quota,
      unavailable: 0,
      polls: 0,
      downloads: 0,
    };
    for (const request of simulator.requests) {
      if (request.status === 503) traffic.unavailable++;
      if (request.kind !== 'poll' && request.kind !== 'download') continue;
      traffic[request.kind === 'poll' ? 'polls' : 'downloads']++;
      if (request.id !== undefined && own.has(request.id)) observed.add(`${name}/${request.id}`);
      else stray.push({ upstream: name, kind: request.kind, id: request.id });
    }
    perUpstream[name] = traffic;
  }
  const audit: PoolAudit = { duplicated: [], missing: [], misplaced: [], stray, unobserved: [], perUpstream };
  for (const task of tasks) {
    const generated = byPrompt.get(task.prompt) ?? [];
    const [only] = generated;
    if (!only) audit.missing.push(task);
    else if (generated.length > 1) audit.duplicated.push(task);
    if (!only) continue;
    if (only.upstream !== task.upstream) audit.misplaced.push(task);
    const traffic = perUpstream[only.upstream];
    if (traffic) traffic.tasks++;
    if (!observed.has(`${only.upstream}/${only.id}`)) audit.unobserved.push(task);
  }
  return audit;
}

/**
 * The least time a pool's quotas allow `tasks` submits in, from the first: each upstream takes `limit` at
 * once and `limit` more every window, so the answer is the first window boundary by which the pool's
 * combined capacity reaches `tasks` (for one upstream, (tasks / limit - 1) × window, as the burst figure).
 */
export function poolQuotaMinimumMs(tasks: number, quotas: QuotaOption[]): number {
  const capacity = (ms: number) =>
    quotas.reduce((sum, q) => sum + q.limit * (Math.floor(ms / q.windowMs) + 1), 0);
  const boundaries = quotas
    .flatMap((q) => Array.from({ length: Math.ceil(tasks / q.limit) + 1 }, (_, k) => k * q.windowMs))
    .sort((a, b) => a - b);
  const enough = boundaries.find((ms) => capacity(ms) >= tasks);
  if (enough === undefined) throw new Error('a pool needs at least one quota');
  return enough;
}

/**
 * Whether the upstream's circuit is open, as every worker reads it: its item in the counters table
 * (`circuit#<name>`, open while `openedAt` is set). Reads the tables of the stack started in this process.
 */
export async function circuitOpen(name: string): Promise<boolean> {
  const dynamo = new DynamoDBClient({
    endpoint: process.env.DYNAMODB_ENDPOINT,
    region: process.env.AWS_REGION,
  });
  try {
    const { Item } = await dynamo.send(
      new GetItemCommand({
        TableName: process.env.COUNTERS_TABLE,
        Key: { counterId: { S: `circuit#${name}` } },
        ConsistentRead: true,
      }),
    );
    return Item?.openedAt !== undefined;
  } finally {
    dynamo.destroy();
  }
}

/** Checks every 100 ms until `check` holds; resolves to how long that took, throws past `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - start;
}
