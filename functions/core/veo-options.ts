import type { Duration, PersonGeneration, Resolution } from './capabilities';

/**
 * Veo 3.1's options (issue 15) as the task keeps them, apart from the zod schemas that read them from a
 * request (schema.ts): the worker and the poller walk these keys, and importing them from schema.ts
 * would build every request schema at their cold start.
 */

/** The options as the task keeps them: only those the client gave, so a request without them is as before. */
export interface VeoOptions {
  resolution?: Resolution;
  durationSeconds?: Duration;
  generateAudio?: boolean;
  negativePrompt?: string;
  personGeneration?: PersonGeneration;
  sampleCount?: number;
}

/** The names of the options the task keeps (VeoOptions), in one list for whoever walks them. */
export const veoOptionKeys = [
  'resolution',
  'durationSeconds',
  'generateAudio',
  'negativePrompt',
  'personGeneration',
  'sampleCount',
] as const satisfies readonly (keyof VeoOptions)[];
