import type { EventPublisher, TaskTokens, Translator } from '../core/ports';

/**
 * Adapters whose modules load on first use. Deployed, a module reached only through `import()` is a chunk of
 * its own (infra/bundling.ts), read and compiled when first imported, not at cold start: Amazon Translate
 * loads only for a prompt that needs translating, the notifier's Step Functions client only for a task
 * started by a state machine, and the worker's events' client on its first publish. (The S3 client's:
 * composition/videos.ts.)
 */

/** `load` called once, on first use; every later call gets the same promise. */
export function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load();
    return loaded;
  };
}

export function lazyTranslator(load: () => Promise<Translator>): Translator {
  const get = once(load);
  return { toEnglish: async (text) => (await get()).toEnglish(text) };
}

export function lazyTaskTokens(load: () => Promise<TaskTokens>): TaskTokens {
  const get = once(load);
  return {
    succeed: async (token, output) => (await get()).succeed(token, output),
    fail: async (token, error, cause) => (await get()).fail(token, error, cause),
  };
}

export function lazyEventPublisher(load: () => Promise<EventPublisher>): EventPublisher {
  const get = once(load);
  return { publish: async (...events) => (await get()).publish(...events) };
}
