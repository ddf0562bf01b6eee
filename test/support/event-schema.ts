import { Ajv2020 } from 'ajv/dist/2020.js';
import { taskEventJsonSchema } from '../../functions/core/event-schema';

/**
 * Validates an event (EventBridge's envelope) against the published JSON Schema (GET
 * /api/v1/events.schema.json) with a JSON Schema validator, not with the zod schema it came from.
 */
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(taskEventJsonSchema());

/** The schema's complaints about `event`, empty when it is valid. */
export function eventSchemaErrors(event: unknown): string[] {
  if (validate(event)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
