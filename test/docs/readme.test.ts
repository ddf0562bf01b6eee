import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const readme = read('README.md');

describe('the README a newcomer reads', () => {
  it('cites no document the repository does not have', () => {
    // The specification lives beside the repository, not in it: a newcomer cannot follow "SPEC §2".
    expect(readme).not.toMatch(/SPEC §/);
  });

  it('names the Node.js version package.json requires where it says how to run it', () => {
    const { engines } = JSON.parse(read('package.json')) as { engines: { node: string } };
    const version = engines.node.replace(/^>=\s*/, '');
    const named = readme.indexOf(`Node.js ${version}`);
    expect(named).toBeGreaterThan(-1);
    expect(named).toBeLessThan(readme.indexOf('## Test'));
  });
});
