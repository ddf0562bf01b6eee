/**
 * What the bundles get for `semver` (infra/bundling.ts aliases it here). Its only callers in a function
 * are the X-Ray SDK's: `semver.gte(process.versions.node, '8.0.0')` when cls-hooked loads, and
 * `semver.gte(AWS.VERSION, '2.7.15')` in captureAWS for SDK v2, which we never call. Loading the real
 * package for that (two copies, semver 5 and 7, each building its regular expressions at import) cost
 * about 15 ms of CPU at every cold start, measured; this compares plain x.y.z versions.
 */
export function gte(version: string, minimum: string): boolean {
  const [a, b] = [parts(version), parts(minimum)];
  for (const [x, y] of [
    [a.major, b.major],
    [a.minor, b.minor],
    [a.patch, b.patch],
  ]) {
    if (x !== y) return (x ?? 0) > (y ?? 0);
  }
  return true;
}

/** Major, minor and patch; anything after them (a prerelease, a build) is not looked at. */
function parts(version: string): { major: number; minor: number; patch: number } {
  const [major = 0, minor = 0, patch = 0] = version
    .replace(/^v/, '')
    .split('.')
    .map((n) => Number.parseInt(n, 10) || 0);
  return { major, minor, patch };
}

export default { gte };
