import type { EventPublisher, TaskTokens, Translator } from '../core/ports';

/**
 * Adapters whose modules load on first use. Deployed, a module reached only through `import()` is a chunk of
 * its own (infra/bundling.ts), read and compiled when first imported, not at cold start: Amazon Translate
 * loads only for a prompt that needs translating, the notifier's Step Functions client only for a task
 * started by a state machine, and the worker's events' client on its first publish. (The S3 client's:
 * composition/videos.ts.)
 */

export function lazyTranslator(load: () => Promise<Translator>): Translator {
  let translator: Promise<Translator> | undefined;
  return {
    toEnglish: async (text) => {
      translator ??= load();
      return (await translator).toEnglish(text);
    },
  };
}

export function lazyTaskTokens(load: () => Promise<TaskTokens>): TaskTokens {
  let tokens: Promise<TaskTokens> | undefined;
  const get = () => {
    tokens ??= load();
    return tokens;
  };
  return {
    succeed: async (token, output) => (await get()).succeed(token, output),
    fail: async (token, error, cause) => (await get()).fail(token, error, cause),
  };
}

export function lazyEventPublisher(load: () => Promise<EventPublisher>): EventPublisher {
  let publisher: Promise<EventPublisher> | undefined;
  return {
    publish: async (...events) => {
      publisher ??= load();
      return (await publisher).publish(...events);
    },
  };
}
