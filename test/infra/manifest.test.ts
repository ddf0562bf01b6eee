import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../functions/config';
import {
  functionEntries,
  type Grantable,
  grantedBy,
  portGrants,
  queues,
  type Uses,
} from '../../functions/manifest';

const repo = new URL('../../', import.meta.url);

/** A configuration every composition accepts; building the dependencies sends nothing anywhere. */
const env = {
  AWS_REGION: 'us-east-1',
  TASKS_TABLE: 'tasks',
  API_KEYS_TABLE: 'api-keys',
  COUNTERS_TABLE: 'counters',
  VIDEO_BUCKET: 'videos',
  GENERATE_QUEUE_URL: 'https://sqs.invalid/generate',
  RESERVED_QUEUE_URL: 'https://sqs.invalid/reserved',
  POLL_QUEUE_URL: 'https://sqs.invalid/poll',
  NOTIFY_QUEUE_URL: 'https://sqs.invalid/notify',
  PROVIDER: 'simulator',
  PROVIDER_BASE_URL: 'https://simulator.invalid',
};
const config = loadConfig(env);
/** The same with a pool of two upstreams: circuits and per-upstream providers are composed only then. */
const poolConfig = loadConfig({
  ...env,
  UPSTREAMS: JSON.stringify([
    { name: 'a', provider: 'simulator', baseUrl: 'https://a.invalid' },
    { name: 'b', provider: 'simulator', baseUrl: 'https://b.invalid' },
  ]),
});

/**
 * Where a composition and a manifest entry disagree: a port whose resource is not granted, a grant no
 * port explains, or a port nobody decided the grants of.
 */
function mismatches(depsKeys: string[], uses: Uses): string[] {
  const granted = grantedBy(uses);
  const problems: string[] = [];
  const explained = new Set<Grantable>();
  for (const key of depsKeys) {
    const port = portGrants[key];
    if (!port) {
      problems.push(`Deps key "${key}" is not in portGrants (functions/manifest.ts): say what it touches`);
      continue;
    }
    for (const need of port.needs) {
      explained.add(need);
      if (!granted.has(need))
        problems.push(`"${key}" needs ${need}, which the manifest entry does not grant`);
    }
    for (const reach of port.reaches ?? []) explained.add(reach);
  }
  for (const grant of granted) {
    if (!explained.has(grant)) problems.push(`the manifest grants ${grant}, which no composed port uses`);
  }
  return problems;
}

describe('the comparison itself', () => {
  it('finds a port without its grant, a grant without its port, and an unknown port', () => {
    const uses: Uses = { tables: { tasks: { actions: ['GetItem'] } }, sends: ['poll'] };
    expect(mismatches(['tasks', 'queues', 'log'], uses)).toEqual([]);
    expect(mismatches(['tasks', 'queues', 'videos'], uses)).toEqual([
      '"videos" needs videos, which the manifest entry does not grant',
    ]);
    expect(mismatches(['tasks'], uses)).toEqual(['the manifest grants queues, which no composed port uses']);
    expect(mismatches(['tasks', 'queues', 'teleporter'], uses)[0]).toContain(
      '"teleporter" is not in portGrants',
    );
    // The task store's transactions explain credits and counters beside it, not alone.
    const refunds: Uses = {
      tables: { tasks: { actions: ['GetItem'] }, apiKeys: { actions: ['UpdateItem'] } },
    };
    expect(mismatches(['tasks'], refunds)).toEqual([]);
    expect(mismatches(['apiKeys'], refunds)).toEqual([
      'the manifest grants tasks, which no composed port uses',
    ]);
  });
});

describe.each([
  ['one upstream', config],
  ['a pool', poolConfig],
])(
  'each function (%s): its composition uses what its manifest entry grants, no more, no less',
  (_, config) => {
    it.each(functionEntries.filter(([, spec]) => spec.composition !== undefined))(
      '%s',
      async (name, spec) => {
        const module = (await import(new URL(spec.composition ?? '', repo).href)) as Record<string, unknown>;
        const builders = Object.values(module).filter(
          (v): v is (c: typeof config) => object => typeof v === 'function',
        );
        expect(
          builders,
          `${spec.composition} exports one function that builds ${name}'s dependencies`,
        ).toHaveLength(1);
        const deps = (builders[0] as (c: typeof config) => object)(config);
        const keys = Object.keys(deps);
        expect(keys.length, name).toBeGreaterThan(0);
        expect(mismatches(keys, spec.uses), name).toEqual([]);
      },
    );
  },
);

describe('each manifest entry', () => {
  it.each(functionEntries)('%s names files that exist', (_, spec) => {
    expect(existsSync(new URL(spec.entry, repo)), spec.entry).toBe(true);
    if (spec.composition) expect(existsSync(new URL(spec.composition, repo)), spec.composition).toBe(true);
  });

  it('has one consumer per queue and SQS-legal batch sizes and caps', () => {
    const consumed = functionEntries.flatMap(([, spec]) =>
      'queues' in spec.trigger ? spec.trigger.queues : [],
    );
    expect(new Set(consumed.map((t) => t.queue)).size).toBe(consumed.length);
    expect(consumed.map((t) => t.queue).sort()).toEqual(Object.keys(queues).sort());
    for (const trigger of consumed) {
      expect(trigger.batchSize).toBeGreaterThanOrEqual(1);
      expect(trigger.batchSize).toBeLessThanOrEqual(10);
      expect(trigger.maxConcurrency).toBeGreaterThanOrEqual(2);
      expect(trigger.maxConcurrency).toBeLessThanOrEqual(1000);
    }
  });
});
