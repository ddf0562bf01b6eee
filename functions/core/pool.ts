import { capabilityModels, type UpstreamShape, upstreamShapes } from './capabilities';
import { type CapabilityCheck, type CapabilityRequest, checkCapabilities } from './capability-check';
import {
  admits,
  afterFailure,
  afterSuccess,
  type CircuitRule,
  type CircuitState,
  circuitPhase,
  closedCircuit,
  defaultCircuitRule,
  takeProbe,
  updateCircuit,
} from './circuit';
import type { CircuitStore, Log, Metrics, TaskStore, UpstreamRequest, VideoProvider } from './ports';
import { PRICED_BASE_SECONDS } from './pricing';
import type { RateWindow } from './rate-window';
import type { GenerateRequest, Model } from './schema';
import type { Task } from './task/task';
import { veoOptionKeys } from './veo-options';

/**
 * The upstream pool (issue 16): which configured upstream serves a task. Each upstream is a provider
 * account with its own quota (a rate window scoped by its name), priority and models; the capability
 * table (capabilities.ts) says what each can honour. A deployment without UPSTREAMS is a pool of one,
 * named after its provider, so its quota scope and records are what they always were.
 */
export interface UpstreamSpec {
  /** Unique: scopes the quota and the circuit, labels metrics, recorded on the task as `upstream`. */
  name: string;
  /** The provider, and so the capability table's column (a name outside the table: tests' fakes). */
  provider: string;
  quota?: RateWindow;
  /** Lower is tried first. */
  priority: number;
  serves: readonly Model[];
}

/** The pool the settings describe: UPSTREAMS, or the one upstream of PROVIDER. */
export function poolOf(settings: {
  upstreams?: readonly UpstreamSpec[];
  providerName: string;
  upstreamQuota?: RateWindow;
}): readonly UpstreamSpec[] {
  if (settings.upstreams && settings.upstreams.length > 0) return settings.upstreams;
  return [
    {
      name: settings.providerName,
      provider: settings.providerName,
      ...(settings.upstreamQuota && { quota: settings.upstreamQuota }),
      priority: 0,
      serves: capabilityModels,
    },
  ];
}

/** What the capability table is asked about a task's request (an `Auto` ratio judged as 16:9 until known). */
export function capabilityRequestOfTask(
  request: GenerateRequest,
  extend: boolean,
  aspectRatio: string = request.aspectRatio,
): CapabilityRequest {
  const asking: CapabilityRequest = {
    model: request.model,
    mode: extend ? 'EXTEND' : request.generationType,
    aspectRatio: aspectRatio === '9:16' ? '9:16' : '16:9',
    imageCount: request.imageUrls.length,
  };
  if (request.seeds !== undefined) asking.seed = request.seeds;
  for (const field of veoOptionKeys) {
    if (request[field] !== undefined) Object.assign(asking, { [field]: request[field] });
  }
  return asking;
}

/** Whether `upstream` can honour the request: it serves the model, and its provider's table says so. */
export function checkOn(upstream: UpstreamSpec, asking: CapabilityRequest): CapabilityCheck {
  if (!upstream.serves.includes(asking.model)) {
    return {
      ok: false,
      field: 'model',
      message: `model ${asking.model} is not served by upstream ${upstream.name}`,
    };
  }
  if (!isUpstreamShape(upstream.provider)) {
    // A provider outside the table (tests' fakes): today's defaults, nothing refused.
    return {
      ok: true,
      applied: {
        model: asking.model,
        upstreamModel: asking.model,
        mode: asking.mode,
        aspectRatio: asking.aspectRatio,
        resolution: asking.resolution ?? '720p',
        durationSeconds: asking.durationSeconds ?? PRICED_BASE_SECONDS,
        generateAudio: asking.generateAudio ?? true,
        sampleCount: asking.sampleCount ?? 1,
      },
      notApplied: [],
    };
  }
  return checkCapabilities(asking, upstream.provider);
}

/**
 * The submit-time check: accepted when ANY upstream of the pool can honour the request (the first by
 * priority that can says what will be made); otherwise the refusal of the first upstream by priority,
 * which names the field.
 */
export function checkOnPool(
  pool: readonly UpstreamSpec[],
  asking: CapabilityRequest,
): CapabilityCheck & { upstream?: string } {
  let refusal: CapabilityCheck | undefined;
  for (const upstream of byPriority(pool)) {
    const check = checkOn(upstream, asking);
    if (check.ok) return { ...check, upstream: upstream.name };
    refusal ??= check;
  }
  return refusal ?? { ok: false, field: 'model', message: 'no upstream is configured' };
}

/**
 * The upstreams a task may go to, in the order to try them: those that can honour it and whose circuit
 * lets work through, by priority, then by free capacity (most first: the slots free in its quota window
 * per second of that window, so the upstream whose slots come back soonest is used first and a burst's
 * first slots are not spent where they return a minute later; an upstream without a quota counts as
 * free), then by name so the order is stable.
 */
export function rankCandidates(
  pool: readonly UpstreamSpec[],
  asking: CapabilityRequest,
  facts: { admits: (name: string) => boolean; freeSlots: (quota: RateWindow) => number },
): { upstream: UpstreamSpec; check: Extract<CapabilityCheck, { ok: true }> }[] {
  const out: { upstream: UpstreamSpec; check: Extract<CapabilityCheck, { ok: true }>; free: number }[] = [];
  for (const upstream of pool) {
    const check = checkOn(upstream, asking);
    if (!check.ok || !facts.admits(upstream.name)) continue;
    const free = upstream.quota
      ? facts.freeSlots(upstream.quota) / (upstream.quota.windowMs / 1000)
      : Number.POSITIVE_INFINITY;
    out.push({ upstream, check, free });
  }
  out.sort(
    (a, b) =>
      a.upstream.priority - b.upstream.priority ||
      b.free - a.free ||
      a.upstream.name.localeCompare(b.upstream.name),
  );
  return out.map(({ upstream, check }) => ({ upstream, check }));
}

/**
 * The provider of the upstream named `name`: the task's pinned upstream for polls, downloads, pushes.
 * A deployment built without the pool's map (tests), or a task from before the pool whose name is not
 * configured any more, uses the deployment's first provider.
 */
export function providerOf(
  deps: { provider: VideoProvider; upstreamProviders?: Readonly<Record<string, VideoProvider>> },
  name: string | undefined,
): VideoProvider {
  return (name !== undefined && deps.upstreamProviders?.[name]) || deps.provider;
}

/**
 * The `upstream` field of a poll message: set in a pool (UPSTREAMS), so the poller asks the right
 * upstream without reading the task; a deployment of one keeps its messages as they were.
 */
export function upstreamField(
  settings: { upstreams?: readonly UpstreamSpec[] },
  name: string | undefined,
): { upstream?: string } {
  return settings.upstreams?.length && name ? { upstream: name } : {};
}

/** The upstream a task is pinned to: the one recorded at submit, else (older tasks) its provider's name. */
export function pinnedUpstream(task: { upstream?: string; provider: string }): string {
  return task.upstream ?? task.provider;
}

function byPriority(pool: readonly UpstreamSpec[]): UpstreamSpec[] {
  return [...pool].sort((a, b) => a.priority - b.priority);
}

export function isUpstreamShape(name: string): name is UpstreamShape {
  return (upstreamShapes as readonly string[]).includes(name);
}

/** What routing a task uses (the worker's deps, structurally, so this module stays below deps.ts). */
export interface RouteDeps {
  settings: {
    upstreams?: readonly UpstreamSpec[];
    providerName: string;
    upstreamQuota?: RateWindow;
    circuit?: CircuitRule;
  };
  tasks: Pick<TaskStore, 'get' | 'freeSlots'>;
  circuits?: CircuitStore;
  log: Log;
  metrics: Metrics;
  now: () => number;
}

/** Where a task may go now, in order, and what its routing saw of the circuits. */
export interface Route {
  candidates: { upstream: UpstreamSpec; check: Extract<CapabilityCheck, { ok: true }> }[];
  circuits: Map<string, CircuitState>;
  rule: CircuitRule;
  /** With no candidate because circuits are open: when the first one lets a probe through. */
  reopensInMs: number;
  /** The upstreams that could make it whatever their circuits say (none: every one refused it or failed it). */
  capable: string[];
}

/**
 * Routes a task (issue 16): the upstreams that can honour it, serve its model, did not refuse it outright
 * already (`refusedBy`) and whose circuit lets work through, by priority then free capacity. A kie
 * extension continues a video of one kie account, so it may only go to its source's upstream; a Google
 * extension sends the video itself and may go anywhere that can. `refusal` when nothing configured can.
 */
export async function routeTask(
  deps: RouteDeps,
  task: Task,
  aspectRatio: string,
  refusedBy: readonly string[],
): Promise<Route | { refusal: string }> {
  const pool = poolOf(deps.settings);
  const asking = capabilityRequestOfTask(task.request, task.extendsTaskId !== undefined, aspectRatio);
  const check = checkOnPool(pool, asking);
  if (!check.ok) return { refusal: check.message };
  let eligible = pool.filter((upstream) => !refusedBy.includes(upstream.name));
  if (task.extendsTaskId) {
    const source = await deps.tasks.get(task.extendsTaskId);
    const pinned = source && pool.find((upstream) => upstream.name === pinnedUpstream(source));
    if (pinned?.provider === 'kie') eligible = eligible.filter((upstream) => upstream.name === pinned.name);
  }
  const rule = deps.settings.circuit ?? defaultCircuitRule;
  const circuits = await readCircuits(deps, eligible);
  const now = deps.now();
  let reopensInMs = rule.coolDownMs;
  for (const [name, state] of circuits) {
    if (circuitPhase(state, now, rule) === 'closed') continue;
    deps.metrics.count('UpstreamCircuitOpen', { upstream: name });
    const from = Math.max(state.openedAt ?? now, state.probeAt ?? 0);
    reopensInMs = Math.min(reopensInMs, Math.max(1000, from + rule.coolDownMs - now));
  }
  const candidates = rankCandidates(eligible, asking, {
    admits: (name) => admits(circuits.get(name) ?? closedCircuit, now, rule),
    freeSlots: (quota) => deps.tasks.freeSlots?.(quota) ?? quota.limit,
  });
  const capable = eligible
    .filter((upstream) => checkOn(upstream, asking).ok)
    .map((upstream) => upstream.name);
  return { candidates, circuits, rule, reopensInMs, capable };
}

/** Whether an upstream that could make the task is behind an open (or half-open) circuit now. */
export function awaitsRecovery(route: Route, now: number): boolean {
  return route.capable.some((name) => {
    const state = route.circuits.get(name);
    return state !== undefined && circuitPhase(state, now, route.rule) !== 'closed';
  });
}

/**
 * How stale a circuit routing reads may be: every candidate's would otherwise cost a read per task (three
 * per task in a pool of three, through a burst); a circuit that opens reaches routing at most this late.
 */
const circuitViewMaxAgeMs = 1000;

/** The circuits of `upstreams` as stored; one that cannot be read counts as closed (routing goes on). */
async function readCircuits(
  deps: RouteDeps,
  upstreams: readonly UpstreamSpec[],
): Promise<Map<string, CircuitState>> {
  const circuits = new Map<string, CircuitState>();
  const store = deps.circuits;
  if (!store) return circuits;
  await Promise.all(
    upstreams.map(async ({ name }) => {
      try {
        circuits.set(name, (await store.get(name, { maxAgeMs: circuitViewMaxAgeMs })).state);
      } catch (error) {
        deps.log.warn('circuit unreadable; counted as closed', { upstream: name, error: String(error) });
      }
    }),
  );
  return circuits;
}

/**
 * Whether the task may go to `name` now: always through a closed circuit; through a half-open one only
 * by taking its one probe first (false: another worker has it).
 */
export async function takeProbeIfHalfOpen(deps: RouteDeps, route: Route, name: string): Promise<boolean> {
  const state = route.circuits.get(name);
  if (!state || !deps.circuits || circuitPhase(state, deps.now(), route.rule) === 'closed') return true;
  const now = deps.now();
  const taken = await updateCircuit(deps.circuits, name, (stored) => takeProbe(stored, now, route.rule));
  if (taken) deps.log.info('circuit half-open: probing the upstream', { upstream: name });
  return taken !== undefined;
}

/**
 * Records what a submit showed of the upstream's health: `failure` (unavailable: 5xx, timeout, connection
 * error, a 429 past our own quota accounting) or `success`. Never fails the task: a circuit not written
 * only delays its opening.
 */
export async function recordCircuit(
  deps: RouteDeps,
  route: Route,
  name: string,
  outcome: 'failure' | 'success',
): Promise<void> {
  if (outcome === 'success') {
    const seen = route.circuits.get(name);
    // Nothing to reset: most submits cost no circuit write at all.
    if (!seen || (seen.failures === 0 && seen.openedAt === undefined)) return;
  }
  await writeCircuit(deps, name, route.rule, outcome);
}

/**
 * A poll that found the task's upstream unavailable counts toward opening its circuit like a submit's
 * failure, so new work goes elsewhere while accepted generations wait it out. Only failures are written:
 * a poll's success would cost a circuit read per poll; a submit's success (or the probe's) closes it.
 */
export async function recordUnavailable(
  deps: Pick<RouteDeps, 'circuits' | 'log' | 'metrics' | 'now'> & { settings: { circuit?: CircuitRule } },
  name: string,
): Promise<void> {
  await writeCircuit(deps, name, deps.settings.circuit ?? defaultCircuitRule, 'failure');
}

async function writeCircuit(
  deps: Pick<RouteDeps, 'circuits' | 'log' | 'metrics' | 'now'>,
  name: string,
  rule: CircuitRule,
  outcome: 'failure' | 'success',
): Promise<void> {
  const store = deps.circuits;
  if (!store) return;
  const now = deps.now();
  try {
    const next = await updateCircuit(store, name, (state) =>
      outcome === 'failure' ? afterFailure(state, now, rule) : afterSuccess(),
    );
    if (outcome === 'failure' && next?.openedAt === now) {
      deps.log.warn('circuit opened', { upstream: name, failures: next.failures });
      deps.metrics.count('UpstreamCircuitOpened', { upstream: name });
    }
    if (outcome === 'success' && next) deps.log.info('circuit closed', { upstream: name });
  } catch (error) {
    deps.log.warn('circuit not recorded', { upstream: name, error: String(error) });
  }
}

/** The request as `notApplied` says this upstream takes it: every Veo option the client gave but those. */
export function forUpstream(
  request: UpstreamRequest,
  task: Pick<Task, 'request'>,
  notApplied: readonly string[],
): UpstreamRequest {
  const out: UpstreamRequest = { ...request };
  for (const field of veoOptionKeys) {
    const value = task.request[field];
    if (value !== undefined && !notApplied.includes(field)) Object.assign(out, { [field]: value });
    else delete out[field];
  }
  return out;
}

/** The notApplied to record with the submit, when the chosen upstream's differs from the submit-time one. */
export function notAppliedChange(task: Pick<Task, 'notApplied'>, notApplied: readonly string[]) {
  const before = task.notApplied ?? [];
  const same = before.length === notApplied.length && before.every((field) => notApplied.includes(field));
  return same ? {} : { notApplied: [...notApplied] };
}
