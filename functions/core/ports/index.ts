/**
 * The ports the core needs from the outside world, one file each. Adapters in functions/adapters implement
 * them; functions/composition wires them per function, so tests and the local runtime swap adapters by
 * construction.
 */
export * from './api-key-store';
export * from './callback-sender';
export * from './circuit-store';
export * from './dead-letters';
export * from './event-publisher';
export * from './images';
export * from './media';
export * from './observability';
export * from './provider';
export * from './task-queues';
export * from './task-store';
export * from './task-tokens';
export * from './translator';
export * from './video-store';
