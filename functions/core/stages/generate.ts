import type { DepsFor } from '../deps';
import {
  failureMessages,
  InputRejectedError,
  ModelNotFoundError,
  RateLimitedError,
  UpstreamUnavailableError,
} from '../errors';
import type { GenerateMessage } from '../messages';
import {
  awaitsRecovery,
  forUpstream,
  notAppliedChange,
  providerOf,
  type Route,
  recordCircuit,
  routeTask,
  takeProbeIfHalfOpen,
  type UpstreamSpec,
} from '../pool';
import type { VideoProvider } from '../ports';
import {
  carryNoticeMs,
  ownLoadWindow,
  type RateWindow,
  type SlotClaim,
  upstreamWindow,
} from '../rate-window';
import { type MoveDeps, moveTask } from '../task/move';
import type { Task } from '../task/task';
import { type UpstreamRequestDeps, upstreamRequest } from '../upstream-request';
import { firstPoll } from './poll-schedule';
import { awaitsPush, sweepTimeOf } from './sweep';

/** What the generate stage (the worker) uses. */
export type GenerateDeps = MoveDeps &
  DepsFor<'provider' | 'upstreamProviders' | 'circuits' | 'settings'> &
  UpstreamRequestDeps;

/**
 * Stage generate (queue `generate`, run by the worker): prepare the upstream request, take a slot of the
 * upstream's quota, submit, schedule the first poll. Like every stage it reads the task, acts only if the
 * task is in the status it expects, and moves it with moveTask's conditional write, so SQS redelivery is
 * harmless.
 */
export async function startGeneration(deps: GenerateDeps, message: GenerateMessage): Promise<void> {
  const task = await deps.tasks.get(message.taskId);
  if (!task) return;
  if (task.status === 'submitting') {
    // Another copy of this message may be submitting right now (a duplicate delivery): only once the
    // worker's timeout has passed since the intent was written is that copy surely dead. Look again then.
    const leaseEnds = task.updatedAt + deps.settings.workerTimeoutSeconds * 1000;
    if (deps.now() < leaseEnds) {
      await deps.queues.generate(message, Math.ceil((leaseEnds - deps.now()) / 1000) + 1);
      return;
    }
    // A worker died between recording the intent and recording the operation: the upstream may
    // have the task. Submitting again could generate (and bill) twice, so end it and refund.
    await moveTask(deps, task, 'failed', { errorCode: 500, errorMessage: failureMessages.interrupted });
    return;
  }
  if (task.status === 'submitted' && task.operation) {
    // Redelivered because sending the first poll failed (or the worker died just before it): send it
    // again, or nothing would ever poll. A duplicate poll is harmless; the sweeper is the backstop.
    // A task awaiting its push has no first poll: the sweep index, written with the move, covers it.
    if (!awaitsPush(task)) await schedulePoll(deps, task, task.operation, task.updatedAt);
    return;
  }
  if (task.status !== 'queued') return; // already started, finished, or gone: a redelivery

  const attempt = message.attempt ?? 0;
  const reserved = message.slot;
  if (reserved && reserved.at - deps.now() > maxEarlyMs) {
    // A reserved slot still far off (past SQS's longest delay, or the message came early): another hop.
    await deps.queues.reserved({ ...message, slot: reserved }, slotDelaySeconds(reserved.at, deps.now()));
    return;
  }
  const retryLater = async (reason: string, delayMs: number, extra: Partial<GenerateMessage> = {}) => {
    if (deps.now() + delayMs >= task.deadlineAt) {
      await moveTask(deps, task, 'failed', {
        errorCode: 501,
        errorMessage: failureMessages.upstreamFailed(reason),
      });
      return;
    }
    deps.log.warn('submit postponed', { reason, delayMs, attempt });
    const refusedBy = extra.refusedBy?.length ? { refusedBy: extra.refusedBy } : {};
    await deps.queues.generate(
      { taskId: task.taskId, attempt: attempt + 1, ...refusedBy },
      Math.ceil(delayMs / 1000),
    );
  };

  let prepared: Awaited<ReturnType<typeof upstreamRequest>>;
  try {
    prepared = await upstreamRequest(deps, task);
  } catch (error) {
    if (error instanceof InputRejectedError) {
      await moveTask(deps, task, 'failed', { errorCode: 422, errorMessage: error.message });
      return;
    }
    if (error instanceof UpstreamUnavailableError) return retryLater(error.message, backoffMs(attempt));
    throw error;
  }
  const { request } = prepared;

  const route = await routeTask(deps, task, request.aspectRatio, [
    ...(message.refusedBy ?? []),
    ...(task.failedUpstreams ?? []),
  ]);
  if ('refusal' in route) {
    // The pool changed since the submit accepted it: nothing configured can make it any more.
    await moveTask(deps, task, 'failed', { errorCode: 422, errorMessage: route.refusal });
    return;
  }

  // Each candidate in turn (the one this task holds a reservation on first): the intent, the upstream's
  // name and a slot of its quota are written in one transaction, so nothing but the request itself stands
  // between taking the slot and the submit: slow writes cannot bunch submits past the upstream's quota.
  // When every candidate's window is full, the task reserves the earliest free slot of any of them and
  // waits in the queue for exactly it. An upstream that refused the submit outright hands it on.
  let current: Task = task;
  let waitMs: number | undefined;
  let transient: UpstreamUnavailableError | undefined;
  let full: SlotClaim[] = [];
  const refusedBy = [...(message.refusedBy ?? [])];
  // The slot this task holds: the message's reservation, or one just made that is due within the wait.
  let held = reserved;
  let justReserved = false;
  for (let passes = 1; ; passes++) {
    const candidates = held
      ? [...route.candidates].sort(
          (a, b) => Number(holds(held, b.upstream.quota)) - Number(holds(held, a.upstream.quota)),
        )
      : route.candidates;
    for (const candidate of candidates) {
      const { upstream, check } = candidate;
      if (refusedBy.includes(upstream.name)) continue;
      if (!(await takeProbeIfHalfOpen(deps, route, upstream.name))) continue;
      const provider = providerOf(deps, upstream.name);
      // Before any slot is taken or kept: a token fetched after it would send the submit late. A failure
      // here is the submit's to meet (and to count against the upstream), as without this call.
      await provider.readyCredentials?.().catch(() => undefined);
      const outcome = await claimSlot(deps, current, candidate, held, justReserved, passes < maxPasses);
      if (!outcome) return;
      if ('full' in outcome) {
        full.push(outcome.full);
        const { retryAfterMs } = outcome;
        if (retryAfterMs !== undefined) waitMs = Math.min(waitMs ?? retryAfterMs, retryAfterMs);
        continue;
      }
      if ('steppedBack' in outcome) {
        current = outcome.steppedBack;
        full.push(outcome.release);
        continue;
      }
      const { claimed } = outcome;

      const started = deps.now();
      let operation: string;
      try {
        operation = await provider.submit(forUpstream(request, task, check.notApplied));
      } catch (error) {
        const back = await afterFailedSubmit(deps, route, upstream, claimed, error, refusedBy);
        if (!back) return;
        current = back;
        if (error instanceof UpstreamUnavailableError) transient = error;
        else refusedBy.push(upstream.name);
        continue;
      }
      deps.metrics.count('UpstreamSubmits', { upstream: upstream.name });
      deps.metrics.milliseconds('UpstreamSubmitLatency', deps.now() - started, { upstream: upstream.name });
      if (route.circuits.get(upstream.name)?.failures || route.circuits.get(upstream.name)?.openedAt)
        await recordCircuit(deps, route, upstream.name, 'success');

      await recordSubmitted(deps, claimed, provider, upstream.name, operation, prepared);
      return;
    }
    if (transient || full.length === 0) break;
    if (awaitsRecovery(route, deps.now())) {
      // An upstream is out (its circuit open): a reservation elsewhere would hold the task past its
      // cool-down and leave it without a probe; wait for the earlier of a slot and its return instead.
      waitMs = Math.min(waitMs ?? route.reopensInMs, route.reopensInMs);
      break;
    }
    const reservation = await reserveEarliest(deps, current, full, task.deadlineAt, passes < maxPasses, {
      taskId: task.taskId,
      ...(attempt > 0 && { attempt }),
      ...(refusedBy.length > 0 && { refusedBy }),
    });
    if (!reservation || 'queued' in reservation) return;
    if ('waitMs' in reservation) {
      waitMs = reservation.waitMs;
      break;
    }
    // Due within the wait: used here, not through the queue.
    held = reservation.held;
    justReserved = true;
    full = [];
    waitMs = undefined;
  }

  const next = { refusedBy };
  if (transient) return retryLater(transient.message, backoffMs(attempt), next);
  if (waitMs !== undefined) return retryLater('waiting for the upstream quota', waitMs, next);
  if (route.capable.every((name) => refusedBy.includes(name))) {
    await moveTask(deps, current, 'failed', {
      errorCode: 501,
      errorMessage: failureMessages.upstreamFailed(
        `no upstream that can make it is left to try (refused by: ${refusedBy.join(', ') || 'none'}; failed on: ${(task.failedUpstreams ?? []).join(', ') || 'none'})`,
      ),
    });
    return;
  }
  // Every candidate's circuit is open (or its probe taken): wait for the first cool-down to end.
  return retryLater('every upstream that can make it is unavailable', route.reopensInMs, next);
}

/**
 * Every candidate's window full: the task reserves the earliest free slot of any of them, never sooner than the
 * writes before its submit can take (a slot reached late is given back). One due within the wait is `held`, for
 * this delivery to use when `mayHold`; any other is `queued`: the message goes to the reserved queue, delayed to
 * shortly before it. `waitMs` when none may be reserved yet (or before the deadline): the task waits in the
 * queue until the earliest. Undefined when the task moved meanwhile (cancelled).
 */
async function reserveEarliest(
  deps: GenerateDeps,
  current: Task,
  full: readonly SlotClaim[],
  deadlineAt: number,
  mayHold: boolean,
  message: Omit<GenerateMessage, 'slot'>,
): Promise<{ held: { scope: string; at: number } } | { queued: true } | { waitMs: number } | undefined> {
  try {
    const from = deps.now() + reserveLeadMs;
    const slot = await deps.tasks.reserveSlot(
      current.taskId,
      full.map((window) => ({ ...window, at: from })),
      deadlineAt,
    );
    if (!slot) return undefined;
    deps.log.info('upstream quota slot reserved', { ...slot, inMs: slot.at - deps.now() });
    if (slot.at - deps.now() <= maxSlotWaitMs && mayHold) return { held: slot };
    await deps.queues.reserved({ ...message, slot }, slotDelaySeconds(slot.at, deps.now()));
    return { queued: true };
  } catch (error) {
    if (!(error instanceof RateLimitedError)) throw error;
    return { waitMs: error.retryAfterMs };
  }
}

/**
 * After an upstream accepted a claimed task: the task is submitted with its operation. An upstream asked to
 * push its end (kie.ai, the Gemini API's webhooks) is not polled: its push queues the one poll, and the
 * sweeper starts polling if none came by `until` (issue 17); any other gets its first poll now.
 */
async function recordSubmitted(
  deps: GenerateDeps,
  claimed: Task,
  provider: VideoProvider,
  upstream: string,
  operation: string,
  { request, translatedFrom }: Awaited<ReturnType<typeof upstreamRequest>>,
): Promise<void> {
  const awaitedPush =
    deps.settings.pushUrl && provider.pushes
      ? { operation, until: deps.now() + deps.settings.pushCheckSeconds * 1000 }
      : undefined;
  const moved = await moveTask(
    deps,
    claimed,
    'submitted',
    { operation, promptSent: request.prompt, translatedFrom, aspectRatio: request.aspectRatio, awaitedPush },
    { sweepAt: awaitedPush && sweepTimeOf(deps.settings, awaitedPush.until) },
  );
  if (!moved) return;
  deps.log.info('task submitted upstream', {
    provider: provider.name,
    upstream,
    operation,
    ...(awaitedPush && { awaitsPush: true }),
  });
  if (!awaitedPush) await schedulePoll(deps, moved, operation, deps.now());
}

/** A candidate of the route: an upstream that can make the task, and how (what it leaves not applied). */
type Candidate = Route['candidates'][number];

/** A reservation: the window's scope and the slot's epoch ms. */
type Reservation = NonNullable<GenerateMessage['slot']>;

const holds = (held: Reservation | undefined, quota: { scope: string } | undefined) =>
  quota !== undefined && quota.scope === held?.scope;

/**
 * What claiming a candidate came to: `claimed`, its slot reached (the task `submitting` there); its window
 * `full` (reserve in it instead, or, where the task may not reserve, wait `retryAfterMs` until a slot frees);
 * `steppedBack` to `queued`, too late for its slot even after moving it, the slot to `release` with the next
 * reservation; undefined when the task moved meanwhile (cancelled, swept) and the delivery is done.
 */
type ClaimOutcome =
  | { claimed: Task }
  | { full: SlotClaim; retryAfterMs?: number }
  | { steppedBack: Task; release: SlotClaim }
  | undefined;

/**
 * Claims a candidate: the intent, the upstream's name and a slot of its quota in one write, then waits for
 * the slot. The slot is the task's reservation there when it is on time (`held`; one `justReserved` is), or
 * one taken now, the late reservation given back in the same write. `mayStepBack` false (the last pass): a
 * slot reached late is used late rather than not at all.
 */
async function claimSlot(
  deps: GenerateDeps,
  task: Task,
  { upstream, check }: Candidate,
  held: Reservation | undefined,
  justReserved: boolean,
  mayStepBack: boolean,
): Promise<ClaimOutcome> {
  const window = upstream.quota && upstreamWindow(upstream.quota);
  let mine = holds(held, window) ? held?.at : undefined;
  // A reservation that looks missed may only have been carried later (SlotClaim carry): where is it?
  if (window && mine !== undefined && !justReserved && deps.now() - mine > slotLatenessMs)
    mine = await deps.tasks.slotTime(window.scope, mine);
  // A reservation is used on time only: much later it would land nearer the next slots than our margin
  // allows. A late one is given back in the same write as a slot taken now (or as the next reservation).
  // One just made is as good as a slot taken now (the same write before the request).
  const onTime = mine !== undefined && (justReserved || deps.now() - mine <= slotLatenessMs);
  if (mine !== undefined && !onTime)
    deps.log.info('reserved slot missed', {
      upstream: upstream.name,
      slotAt: mine,
      lateMs: deps.now() - mine,
    });
  // A slot taken now is taken a moment ahead (submitLeadMs) and the submit waits for it: the write's
  // own duration then does not stretch the time between our count and the upstream's.
  const slot: SlotClaim | undefined =
    window && !onTime
      ? {
          ...window,
          at: deps.now() + submitLeadMs,
          ...(mine !== undefined && { release: mine, carry: true }),
        }
      : undefined;
  // Full by the counter as last seen (this instance's own writes included): reserving is the one write to
  // make; a take tried first would only be refused. Where the task may not reserve, it waits until then.
  const freeInMs = slot && deps.tasks.slotFreeInMs?.(slot);
  if (slot && freeInMs) return { full: slot, retryAfterMs: freeInMs };
  let claimed: Task | undefined;
  let slotAt: number | undefined;
  try {
    claimed = await moveTask(
      deps,
      task,
      'submitting',
      { upstream: upstream.name, provider: upstream.provider, ...notAppliedChange(task, check.notApplied) },
      slot && {
        slot,
        granted: (at) => {
          slotAt = at;
        },
      },
    );
  } catch (error) {
    if (!(error instanceof RateLimitedError) || !slot) throw error;
    return { full: slot, retryAfterMs: error.retryAfterMs };
  }
  if (!claimed) return undefined;
  const due = onTime ? mine : (slotAt ?? slot?.at);
  if (mine !== undefined && onTime)
    deps.log.info('submitting on a reserved slot', {
      upstream: upstream.name,
      slotAt: mine,
      early: mine - deps.now(),
    });
  if (!window || due === undefined) return { claimed };
  const kept = await awaitSlot(deps, claimed.taskId, upstream.name, window, due, onTime);
  if (!kept) return undefined;
  if (!kept.late || !mayStepBack) return { claimed };
  // Still too late for its slot: sent now, the submit could land among the next window's. It steps back
  // instead, its slot given back with the next reservation.
  deps.log.warn('slot missed before the submit', { upstream: upstream.name, lateMs: deps.now() - kept.at });
  const back = await moveTask(deps, claimed, 'queued');
  return back && { steppedBack: back, release: { ...window, release: kept.at } };
}

/**
 * After an upstream refused a claimed task's submit, or never answered it: the task ends (refunded) when it
 * may be generating there already, or when no other upstream could make it; else it steps back to the queue,
 * for another candidate or a later retry. Returns the task stepped back; undefined when the delivery is done.
 */
async function afterFailedSubmit(
  deps: GenerateDeps,
  route: Route,
  upstream: UpstreamSpec,
  claimed: Task,
  error: unknown,
  refusedBy: readonly string[],
): Promise<Task | undefined> {
  const dimensions = { upstream: upstream.name };
  const unavailable = error instanceof UpstreamUnavailableError;
  // A 429 on a window our own submits filled is our timing, not the upstream's health.
  const ownLoad =
    unavailable &&
    error.rateLimited &&
    upstream.quota !== undefined &&
    deps.tasks.freeSlots?.(ownLoadWindow(upstream.quota)) === 0;
  if (ownLoad) deps.log.warn('upstream quota refused a submit at the edge of our own window', dimensions);
  else if (unavailable) await recordCircuit(deps, route, upstream.name, 'failure');
  if (unavailable && error.fate === 'unknown') {
    // Sent, and no answer: the upstream may be generating it. Never sent again, here or elsewhere.
    deps.metrics.count('UpstreamFailures', dimensions);
    await moveTask(deps, claimed, 'failed', {
      errorCode: 501,
      errorMessage: failureMessages.upstreamFailed(error.message),
    });
    return undefined;
  }
  deps.metrics.count('UpstreamRefusals', dimensions);
  if (error instanceof ModelNotFoundError)
    deps.log.error('the upstream does not know the configured model', {
      upstream: upstream.name,
      modelId: error.modelId,
    });
  deps.log.warn('upstream refused the submit', { upstream: upstream.name, error: reason(error) });
  // Another upstream may still make it: a later candidate, or one whose circuit is open for now.
  const others = route.capable.some((name) => name !== upstream.name && !refusedBy.includes(name));
  if (!unavailable && !others) {
    // Refused for good by the last upstream that could take it: the task ends (refunded), as with one.
    await moveTask(deps, claimed, 'failed', {
      errorCode: 501,
      errorMessage:
        error instanceof ModelNotFoundError
          ? failureMessages.modelNotFound(error)
          : failureMessages.upstreamFailed(reason(error)),
    });
    return undefined;
  }
  // Refused before anything started: step back so another upstream (or a later retry) may submit.
  return moveTask(deps, claimed, 'queued');
}

/**
 * Waits for a claimed slot and says whether the submit reached it in time. SQS delays in whole seconds, so
 * a reserved slot's message comes 2–3 s early (deliveryLeadMs): the intent is written, the rest is
 * waited here, and shortly before the slot its time is read from the window's log, as a slot reached late
 * before it may have carried it later. A slot reached late (a slow write, a worker short of CPU) is moved
 * ahead in one write, the task kept submitting, carrying the reservations anchored on it: asked as a slot
 * taken now, which the store grants where its writes lately commit, so the move is not late again. Only
 * when the window has no slot that soon, or the moves keep missing, is it `late` (stepping back costs two
 * writes and a reservation, and leaves the slot unused). Undefined when the task has moved.
 */
async function awaitSlot(
  deps: GenerateDeps,
  taskId: string,
  upstream: string,
  window: RateWindow,
  due: number,
  reserved: boolean,
): Promise<{ at: number; late: boolean } | undefined> {
  let at = due;
  // Only a slot granted more than carryNoticeMs ahead can be carried (rate-window.ts carryAnchored).
  let check = reserved;
  for (let moves = 0; ; moves++) {
    if (check) {
      if (at - slotCheckLeadMs > deps.now()) await sleep(at - slotCheckLeadMs - deps.now());
      const carried = await deps.tasks.slotTime(window.scope, at);
      if (carried !== at)
        deps.log.info('reserved slot carried', { upstream, slotAt: at, carriedMs: carried - at });
      at = carried;
      check = false;
    }
    if (at > deps.now()) await sleep(at - deps.now());
    const lateMs = deps.now() - at;
    if (lateMs <= slotLatenessMs) return { at, late: false };
    if (moves === maxSlotMoves) return { at, late: true };
    const started = deps.now();
    try {
      // Asked as a slot taken now is: the store grants it no sooner than its writes commit lately.
      const moved = await deps.tasks.reserveSlot(
        taskId,
        [{ ...window, at: started + submitLeadMs, release: at, carry: true }],
        started + maxSlotWaitMs,
        'submitting',
      );
      if (!moved) return undefined;
      deps.log.info('slot moved ahead', { upstream, slotAt: at, lateMs, leadMs: moved.at - started });
      at = moved.at;
      check = moved.at - started > carryNoticeMs;
    } catch (error) {
      if (error instanceof RateLimitedError) return { at, late: true };
      throw error;
    }
  }
}

/** The first poll of a submitted task. */
function schedulePoll(deps: GenerateDeps, task: Task, operation: string, submittedAt: number) {
  return deps.queues.poll(
    firstPoll(deps.settings, task, operation, submittedAt),
    deps.settings.pollIntervalSeconds,
  );
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * How long before a reserved slot its holder reads where the slot is (awaitSlot): within carryNoticeMs
 * (rate-window.ts), so no carry comes after the read, and ahead of the slot by more than a read takes.
 */
const slotCheckLeadMs = 300;
/** The longest a worker waits in process for its reserved slot; SQS brings the message closer first. */
const maxSlotWaitMs = 2000;
/**
 * How late a slot may still be used: a third of the margin our window keeps over the upstream's
 * (rate-window.ts upstreamMarginMs, 150 ms); the rest covers the spread of the HTTPS request, which under a
 * burst's load is more than half of it (at 100 ms the pool's burst still met 1–7 upstream 429s a run).
 */
export const slotLatenessMs = 50;
/** How far ahead a reservation is made at least: the claim's write comes before its slot even under load. */
const reserveLeadMs = 1000;
/**
 * How many times a slot reached late is moved ahead before the submit steps back: a move carries the line
 * behind it a few hundred ms, a step back leaves a slot of the window unused (a window's length at its end).
 */
const maxSlotMoves = 3;
/** Rounds of the candidates in one delivery: the first, one on a slot reserved then, one after missing it. */
const maxPasses = 3;
/**
 * How far ahead a slot taken now is asked: about a DynamoDB transaction's time. The store grants it later when
 * its own writes lately took longer (a burst's acceptance queues them), or the slot would be reached late.
 */
export const submitLeadMs = 150;
/**
 * How much earlier than its slot a reserved slot's message is made visible: the delay is counted from when
 * SQS gets the message, and a SendMessage made while a burst is accepted took up to ~1.4 s locally; with a
 * lead of 500 ms such a message came after its slot, the slot was given back and the burst ran a window
 * longer. The worker waits the rest in process (which is why the reserved queue drives many invocations).
 */
const deliveryLeadMs = 2000;
/** How early a reserved slot's message may come and still wait in process: the lead, SQS's whole seconds, a margin. */
const maxEarlyMs = deliveryLeadMs + 1250;
/** SQS's longest message delay. */
const maxDelaySeconds = 900;

/**
 * A delay that delivers at most deliveryLeadMs + 1 s before `slotAt` (SQS counts whole seconds) and not
 * after it, at most SQS's 15 minutes (a later slot is reached in hops).
 */
export function slotDelaySeconds(slotAt: number, now: number): number {
  return Math.min(maxDelaySeconds, Math.max(0, Math.floor((slotAt - now - deliveryLeadMs) / 1000)));
}

/** Exponential backoff with full jitter: 2 s, 4 s, 8 s … capped at 2 minutes. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(2000 * 2 ** attempt, 120_000);
  return Math.max(1000, Math.round(random() * cap));
}

export function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
