import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dummyEnv } from '../../bench/init';
import { buildFunction, externalModules } from '../../infra/bundling';

const run = promisify(execFile);

/** What a cold start of the bundle loaded, in a fresh Node process started as Lambda starts it (tracing on). */
const probe =
  "await import(process.argv[1]); const http = process.getBuiltinModule('node:http');" +
  'process.stdout.write(JSON.stringify({ undici: process.moduleLoadList.some((m) => m.includes("undici")),' +
  ' patched: typeof http.__request === "function" })); process.exit(0);';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'veo-node-http-'));
  buildFunction('functions/api.ts', dir, externalModules('kie'));
}, 60_000);

afterAll(() => rm(dir, { recursive: true, force: true }));

describe('node:http in a traced bundle (infra/shims/node-http.cjs)', () => {
  it("is the one module the X-Ray SDK patches, and its ESM facade's undici is never loaded", async () => {
    const { stdout } = await run(
      process.execPath,
      ['--input-type=module', '-e', probe, pathToFileURL(join(dir, 'index.mjs')).href],
      { env: { PATH: process.env.PATH ?? '', ...dummyEnv, LAMBDA_TASK_ROOT: dir }, timeout: 30_000 },
    );
    // Patched: Powertools' Tracer started (tracing on) and wrapped the same http the SDK's requests use.
    expect(JSON.parse(stdout)).toEqual({ undici: false, patched: true });
  });
});
