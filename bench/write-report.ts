import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../infra/bundling';
import { renderReport } from './report';
import type { Results } from './results';

/** `npm run bench:report`: draws bench/report.html from bench/results.json, without measuring anything. */
export async function writeReport(): Promise<string> {
  const results = JSON.parse(await readFile(join(repoRoot, 'bench/results.json'), 'utf8')) as Results;
  const out = join(repoRoot, 'bench/report.html');
  await writeFile(out, renderReport(results));
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href)
  console.log(`written to ${await writeReport()}`);
