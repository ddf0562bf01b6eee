import { expectTypeOf, it } from 'vitest';
import type * as z from 'zod';
import type { taskRecordSchema } from './event-schema';
import type { TaskRecord } from './task/record';

type EventRecord = z.infer<typeof taskRecordSchema>;

it("describes what record-info's toRecord returns (tsc fails when the two drift apart)", () => {
  // Every record is a valid event detail (assignable), and the schema names exactly the record's fields.
  const asDetail = (record: TaskRecord): EventRecord => record;
  expectTypeOf(asDetail).returns.toEqualTypeOf<EventRecord>();
  expectTypeOf<keyof TaskRecord>().toEqualTypeOf<keyof EventRecord>();
  expectTypeOf<keyof NonNullable<TaskRecord['response']>>().toEqualTypeOf<
    keyof NonNullable<EventRecord['response']>
  >();
});
