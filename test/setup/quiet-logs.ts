import { afterAll, afterEach, beforeEach } from 'vitest';

/**
 * Setup file of every vitest project. The system under test logs its JSON lines through Powertools' own
 * Console on process.stdout, which vitest's console capture does not see, so they flooded the run. Raw writes
 * of the test process are held and handed to `console` at each test's start and end, a run of lines in one
 * call: vitest ties them to that test and, with `silent: 'passed-only'` (vitest.config.ts), prints them only
 * for a test, suite or file that fails, under one header rather than one per line.
 * With LOG_LEVEL set nothing is held back, and the functions log at that level.
 */
const level = process.env.LOG_LEVEL;
if (level) {
  process.env.POWERTOOLS_LOG_LEVEL ??= level;
} else {
  const held: { method: 'log' | 'error'; text: string }[] = [];
  let flushing = false;
  const flush = () => {
    flushing = true;
    try {
      while (held.length > 0) {
        const method = held[0]?.method ?? 'log';
        const run: string[] = [];
        while (held[0]?.method === method) run.push(held.shift()?.text ?? '');
        console[method](run.join('').replace(/\n$/, ''));
      }
    } finally {
      flushing = false;
    }
  };
  for (const [stream, method] of [
    [process.stdout, 'log'],
    [process.stderr, 'error'],
  ] as const) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      // Whatever console itself writes here (vitest's own does not) goes out as it is.
      if (flushing) return write(chunk, ...rest);
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      held.push({ method, text });
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof stream.write;
  }
  beforeEach(flush);
  afterEach(flush);
  afterAll(flush);
}
