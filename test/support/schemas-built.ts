import * as z from 'zod';

/**
 * How many zod schemas `run` builds (checks included), counted through zod's construction hook: core's
 * `postProcessor`, called on every schema built (the hook `zod/compile` installs itself with). A cold start
 * pays for each schema a function builds at import (bench/README.md, **init**).
 */
export async function schemasBuilt(run: () => unknown): Promise<number> {
  const config = z.config();
  const previous = config.postProcessor;
  let built = 0;
  config.postProcessor = (schema) => {
    built++;
    previous?.(schema);
  };
  try {
    await run();
  } finally {
    config.postProcessor = previous;
  }
  return built;
}
