import * as z from 'zod';

/**
 * What must be settled before any library loads: every handler imports this module first.
 *
 * zod without its JIT: an object schema decides at construction whether its first parse compiles a parser
 * with `new Function`, so this must run before any schema is built. That compile is what a cold start pays
 * for the config and again for the first request's schema (measured: config 10.9 -> 4.6 ms, a first
 * generate request 7.7 -> 2.9 ms), while a warm parse of our schemas, dominated by refinements and
 * transforms, costs the same either way (27 µs).
 */
z.config({ jitless: true });
