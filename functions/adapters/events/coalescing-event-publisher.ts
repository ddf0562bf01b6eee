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
