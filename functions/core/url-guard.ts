import ipaddr from 'ipaddr.js';

/**
 * Which untrusted URLs (callBackUrl, imageUrls) the service may call.
 * This is the syntactic check done at submit time; addresses a name resolves to are checked
 * again when the URL is actually called (a name need not resolve yet when the task is submitted).
 */
export interface UrlPolicy {
  /** Only the local stack, where everything lives on loopback, allows loopback targets. */
  allowLoopback: boolean;
  /** Deployed stages require https unless the operator allows plain http (as kie.ai does). */
  allowHttp: boolean;
}

/** Returns why the URL is refused, or undefined when it may be called. */
export function refuseUrl(raw: string, policy: UrlPolicy): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an absolute http(s) URL';
  if (url.username || url.password) return 'must not carry credentials';
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (url.protocol === 'http:' && !policy.allowHttp && !(policy.allowLoopback && isLoopbackName(host))) {
    return 'must use https';
  }
  if (host === 'localhost' || host.endsWith('.localhost')) {
    return policy.allowLoopback ? undefined : 'must not point to a loopback address';
  }
  // WHATWG URL parsing already turned decimal, octal and hex IPv4 spellings into dotted quads.
  if (!ipaddr.isValid(host)) return undefined;
  return refuseAddress(host, policy);
}

/** Returns why the IP address is refused, or undefined when it is a public unicast address. */
export function refuseAddress(address: string, policy: Pick<UrlPolicy, 'allowLoopback'>): string | undefined {
  // process() unwraps IPv4-mapped IPv6 (::ffff:10.0.0.1) so the IPv4 rules apply to it.
  const ip = ipaddr.process(address);
  const range = ip.range();
  if (range === 'unicast') return undefined;
  if (range === 'loopback') return policy.allowLoopback ? undefined : 'must not point to a loopback address';
  if (range === 'linkLocal') return 'must not point to a link-local or metadata address';
  return `must not point to a ${range} address`;
}

function isLoopbackName(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  return ipaddr.isValid(host) && ipaddr.process(host).range() === 'loopback';
}
