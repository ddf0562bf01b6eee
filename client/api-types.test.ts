import { describe, expectTypeOf, it } from 'vitest';
import type {
  extendRequestSchema,
  fourKRequestSchema,
  generateRequestSchema,
} from '../functions/core/schema';
import type { TaskRecord as ServerTaskRecord } from '../functions/core/task/record';
import type { CapabilitiesDocument } from '../functions/http/openapi';
import type {
  Capabilities,
  ExtendRequestInput,
  GenerateRequestInput,
  Get4kRequestInput,
  TaskRecord,
} from './api-types';
import type { RequestInput } from './request-types';

type Flat<T> = { [K in keyof T]: T[K] };

// Checked by `tsc` (the expectations are types); vitest runs them as no-ops.
describe('api-types', () => {
  it("equals the types read off the API's zod schemas and record builder", () => {
    expectTypeOf<GenerateRequestInput>().toEqualTypeOf<
      RequestInput<ReturnType<typeof generateRequestSchema>>
    >();
    expectTypeOf<ExtendRequestInput>().toEqualTypeOf<RequestInput<ReturnType<typeof extendRequestSchema>>>();
    // The schema coerces `index` from anything; a client sends a number.
    expectTypeOf<Get4kRequestInput>().toEqualTypeOf<
      Flat<Omit<RequestInput<ReturnType<typeof fourKRequestSchema>>, 'index'> & { index?: number }>
    >();
    expectTypeOf<TaskRecord>().toEqualTypeOf<ServerTaskRecord>();
    expectTypeOf<Capabilities>().toEqualTypeOf<CapabilitiesDocument>();
  });

  it('fails on a type that differs (the checks above can fail)', () => {
    expectTypeOf<TaskRecord>().not.toEqualTypeOf<Omit<ServerTaskRecord, 'seeds'>>();
    expectTypeOf<GenerateRequestInput>().not.toEqualTypeOf<
      Omit<RequestInput<ReturnType<typeof generateRequestSchema>>, 'enableFallback'>
    >();
  });
});
