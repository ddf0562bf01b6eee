import type { Config } from '../config';
import type { EventPublisher, TaskTokens, Translator, VideoStore } from '../core/ports';

/**
 * Adapters whose modules load on first use. Deployed, a module reached only through `import()` is a chunk of
 * its own (infra/bundling.ts), read and compiled when first imported, not at cold start: the api's submit
 * path never loads the S3 client, the worker loads it only to extend a video, the poller with the first video
 * it stores; Amazon Translate loads only for a prompt that needs translating, the notifier's Step Functions
 * client only for a task started by a state machine, and the worker's events' client on its first publish.
 */

/** The S3 video store, its client loaded with the first video stored, read or signed. */
export function lazyVideoStore(config: Config): VideoStore {
  const load = async () => (await import('./s3')).videoStore(config);
  let store: Promise<VideoStore> | undefined;
  const get = () => {
    store ??= load();
    return store;
  };
  return {
    put: async (key, body, contentType) => (await get()).put(key, body, contentType),
    open: async (key) => (await get()).open(key),
    url: async (key) => (await get()).url(key),
  };
}

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
