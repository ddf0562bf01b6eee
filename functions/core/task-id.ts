import * as z from 'zod';

/**
 * A task id as a client sends it (record-info's `taskId`, a 4K or extend request) or an upstream's push names it:
 * task ids are URL-safe by construction, anything else cannot exist. A module of its own so the
 * upstream-callback function does not build the request schemas (core/schema.ts) at its cold start.
 */
export const taskIdSchema = z
  .string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') })
  // As sent (paramJson keeps it so): whitespace around an id is trimmed, but not without end.
  .max(256, { error: 'is not a valid task id', abort: true })
  .trim()
  .min(1, 'is required')
  .max(128, 'is not a valid task id')
  .regex(/^[A-Za-z0-9_-]+$/, 'is not a valid task id');
