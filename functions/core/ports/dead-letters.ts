/** A message that exhausted its receives on a stage's queue and was parked in that queue's dead-letter queue. */
export interface DeadLetter {
  queue: 'generate' | 'reserved' | 'poll' | 'notify';
  body: string;
  /** What deleting it takes (SQS's receipt handle). */
  receipt: string;
}

/** The stages' dead-letter queues, as the sweeper drains them. */
export interface DeadLetterQueues {
  /** Up to `max` parked messages across the queues (fewer when they hold fewer). */
  receive(max: number): Promise<DeadLetter[]>;
  remove(letter: DeadLetter): Promise<void>;
}
