/** A task: its record (task.ts) and how it may move (transitions.ts); moving one is move.ts. */
export * from './task';
export * from './transitions';
