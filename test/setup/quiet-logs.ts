/**
 * Setup file of every vitest project. The system under test logs its JSON lines through Powertools' own
 * Console on process.stdout, which vitest's console capture does not see, so they flooded the run. Raw writes
 * of the test process go to `console` instead: vitest ties each line to the test that was running and, with
 * `silent: 'passed-only'` (vitest.config.ts), prints them only for a test, suite or file that fails.
 * With LOG_LEVEL set nothing is held back, and the functions log at that level.
 */
const level = process.env.LOG_LEVEL;
if (level) {
  process.env.POWERTOOLS_LOG_LEVEL ??= level;
} else {
  routeToConsole(process.stdout, 'log');
  routeToConsole(process.stderr, 'error');
}

function routeToConsole(stream: NodeJS.WriteStream, method: 'log' | 'error'): void {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  let inside = false;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    // Whatever console itself writes here (vitest's own does not) goes out as it is.
    if (inside) return write(chunk, ...rest);
    inside = true;
    try {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      console[method](text.replace(/\n$/, ''));
    } finally {
      inside = false;
    }
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof stream.write;
}
