import type { DepsFor } from './deps';
import type { TaskEvent, TaskEventDetail, TaskEventEnvelope } from './event-schema';
import { eventSource, type TaskChange, taskEventTypes } from './task/change';
import { type SignedResults, signResults, type TaskRecord, toRecord } from './task/record';

// Types only: the schemas themselves (and building them at import) are for the api's JSON Schema route.
export type { TaskEvent, TaskEventDetail, TaskEventEnvelope } from './event-schema';
export { eventSource, type TaskChange, type TaskChangeType, taskEventTypes } from './task/change';

/** The event as EventBridge delivers it to a rule's target (what the local stand-in sends to its queue). */
export function eventEnvelope(
  event: TaskEvent,
  where: { id: string; account: string; region: string },
): TaskEventEnvelope {
  return {
    version: '0',
    id: where.id,
    'detail-type': event.detailType,
    source: eventSource,
    account: where.account,
    time: new Date(event.time).toISOString(),
    region: where.region,
    resources: [],
    detail: event.detail,
  };
}

/** The event of a change, from the task as the change wrote it and its freshly signed URLs. */
export function taskEventOf(change: TaskChange, signed: SignedResults): TaskEvent {
  const { task } = change;
  const record: TaskRecord = toRecord(task, signed);
  const job = change.rendition ? task.renditions?.[change.rendition] : undefined;
  const detail: TaskEventDetail = {
    ...record,
    state: record.successFlag === 0 ? 'waiting' : record.successFlag === 1 ? 'success' : 'fail',
    status: task.status === 'submitting' ? 'queued' : task.status,
    ...(change.rendition &&
      job && {
        rendition: {
          slot: change.rendition,
          resolution: job.resolution,
          index: job.index,
          status: change.type === 'renditionReady' ? 'ready' : 'failed',
          error: job.error ?? null,
        },
      }),
  };
  return {
    detailType: taskEventTypes[change.type],
    time: change.at,
    detail,
    id: `${task.taskId}:${change.type}${change.rendition ? `:${change.rendition}` : ''}`,
  };
}

/** Publishes the changes in one request, in order, each as the change wrote its task (URLs signed now). */
export async function publishChanges(
  deps: DepsFor<'events' | 'videos' | 'log'>,
  changes: TaskChange[],
): Promise<void> {
  const events = await Promise.all(
    changes.map(async (change) => taskEventOf(change, await signResults(deps, change.task))),
  );
  await deps.events.publish(...events);
  deps.log.info('task event published', { types: changes.map((c) => c.type) });
}
