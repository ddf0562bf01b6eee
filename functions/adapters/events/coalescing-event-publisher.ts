import type { TaskEvent } from '../../core/events';
import type { EventPublisher } from '../../core/ports';

/** Puts events in as few requests as the service allows, with each event's own outcome (undefined: taken). */
export interface EventBatchSink {
  putEach(events: TaskEvent[]): Promise<(Error | undefined)[]>;
}

/**
 * Gathers the events published within one turn of the event loop into one put: the notifier handles the
 * records of an invocation in parallel, so their events reach here together and go out in one PutEvents
 * (10 entries each) instead of one per record (issue 17). Each publish still settles on its own events'
 * outcome, so only the records whose events were refused fail and come back from SQS.
 */
export class CoalescingEventPublisher implements EventPublisher {
  private waiting: { events: TaskEvent[]; settle: (error?: unknown) => void }[] = [];

  constructor(private readonly sink: EventBatchSink) {}

  publish(...events: TaskEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiting.push({ events, settle: (error) => (error ? reject(error) : resolve()) });
      // After the microtasks of this turn: every record that got this far by then goes in the same put.
      if (this.waiting.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.waiting.splice(0);
    let outcomes: (Error | undefined)[];
    try {
      outcomes = await this.sink.putEach(batch.flatMap((b) => b.events));
    } catch (error) {
      for (const publication of batch) publication.settle(error);
      return;
    }
    let next = 0;
    for (const publication of batch) {
      const own = outcomes.slice(next, next + publication.events.length);
      next += publication.events.length;
      publication.settle(own.find((outcome) => outcome !== undefined));
    }
  }
}

/**
 * Splits `items` into the requests a batch call takes: at most 10 entries, and (PutEvents, SendMessageBatch)
 * at most 256 KB in all, with room to spare. One item over the size goes alone (and is refused alone).
 */
export function batchesOf<T>(items: T[], bytesOf: (item: T) => number, maxBytes = 250_000): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = bytesOf(item);
    if (current.length > 0 && (current.length === 10 || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * Puts each batch in turn, each event with its own outcome: a request that fails (after the SDK's retries)
 * fails only its own batch's events, never those an earlier request already delivered (failing them too
 * would send them again with their records' retry: duplicates).
 */
export async function putBatches<T>(
  batches: T[][],
  put: (batch: T[]) => Promise<(Error | undefined)[]>,
): Promise<(Error | undefined)[]> {
  const outcomes: (Error | undefined)[] = [];
  for (const batch of batches) {
    try {
      outcomes.push(...(await put(batch)));
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      outcomes.push(...batch.map(() => failure));
    }
  }
  return outcomes;
}
