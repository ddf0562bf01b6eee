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

/**
 * Thrown where an untrusted URL is called (functions/adapters/http/guarded-request.ts) when the URL,
 * or an address its name resolves to, is not one the service may call. Retrying will not help.
 * The message never repeats the URL, so it carries no credentials or internal names.
 */
export class UrlRefusedError extends Error {
  override name = 'UrlRefusedError';
  constructor(
    /** The field the URL came from, e.g. "callBackUrl". */
    readonly subject: string,
    /** Reads after the subject, e.g. "resolves to a private address". */
    readonly reason: string,
  ) {
    super(`${subject} ${reason}`);
  }
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
  // A trailing dot names the same host ("localhost." is localhost).
  const host = url.hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
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
  const checked = checkAddress(address, policy);
  return checked.allowed ? undefined : `must not point to ${withArticle(checked.kind)} address`;
}

/**
 * The verdict on one IP address. An allowed address comes back in the form to connect to:
 * IPv4-mapped IPv6 is unwrapped to IPv4, other spellings are canonical.
 */
export type AddressCheck =
  | { allowed: true; address: string; family: 4 | 6 }
  /** `kind` names the range for messages, e.g. "private", "loopback", "link-local or metadata". */
  | { allowed: false; kind: string };

// Cloud metadata endpoints outside 169.254.0.0/16 (which is refused whole): AWS IMDS and EKS Pod
// Identity over IPv6, Alibaba Cloud's IMDS (inside CGNAT space, refused anyway; named for the message).
const metadataAddresses = new Set(['fd00:ec2::254', 'fd00:ec2::23', '100.100.100.200']);

const ipv4Kinds: Record<string, string> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local or metadata',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade NAT',
  private: 'private',
};

const ipv6Kinds: Record<string, string> = {
  unspecified: 'unspecified',
  linkLocal: 'link-local',
  deprecatedSiteLocal: 'site-local',
  multicast: 'multicast',
  loopback: 'loopback',
  uniqueLocal: 'private',
  '6to4': '6to4',
  teredo: 'Teredo',
};

/**
 * Decides whether the service may connect to an address. Only public unicast space is allowed
 * (IPv6: 2000::/3 outside its special blocks), plus loopback when the policy allows it; link-local
 * and metadata addresses are refused in every mode. Addresses that embed an IPv4 address are judged
 * by it (IPv4-mapped, and NAT64's 64:ff9b::/96, which an IPv6-only VPC uses to reach IPv4 hosts);
 * tunnel and translation prefixes that could reach inside (6to4, Teredo, IPv4-compatible,
 * IPv4-translated, NAT64 local-use) are refused.
 */
export function checkAddress(address: string, policy: Pick<UrlPolicy, 'allowLoopback'>): AddressCheck {
  // A zone index ("fe80::1%eth0") only makes sense on link-local addresses.
  if (address.includes('%')) return { allowed: false, kind: 'link-local' };
  if (!ipaddr.isValid(address)) return { allowed: false, kind: 'invalid' };
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) {
    ip = (ip as ipaddr.IPv6).toIPv4Address();
  }
  const canonical = ip.toString();
  if (metadataAddresses.has(canonical)) return { allowed: false, kind: 'metadata' };

  if (ip.kind() === 'ipv4') {
    const range = ip.range();
    if (range === 'unicast' || (range === 'loopback' && policy.allowLoopback)) {
      return { allowed: true, address: canonical, family: 4 };
    }
    return { allowed: false, kind: ipv4Kinds[range] ?? 'reserved' };
  }

  const v6 = ip as ipaddr.IPv6;
  const range = v6.range();
  if (range === 'loopback' && policy.allowLoopback) return { allowed: true, address: canonical, family: 6 };
  if (range === 'rfc6052' && v6.match(nat64WellKnown)) {
    // Whatever the embedded address is, it is reached through the NAT64 gateway, never its own loopback.
    const embedded = checkAddress(embeddedIPv4(v6), { allowLoopback: false });
    return embedded.allowed ? { allowed: true, address: canonical, family: 6 } : embedded;
  }
  if (range === 'unicast' && v6.match(globalUnicast)) return { allowed: true, address: canonical, family: 6 };
  return { allowed: false, kind: ipv6Kinds[range] ?? 'reserved' };
}

const nat64WellKnown = ipaddr.parseCIDR('64:ff9b::/96') as [ipaddr.IPv6, number];
const globalUnicast = ipaddr.parseCIDR('2000::/3') as [ipaddr.IPv6, number];

function embeddedIPv4(ip: ipaddr.IPv6): string {
  const bytes = ip.toByteArray().slice(12);
  return bytes.join('.');
}

function withArticle(kind: string): string {
  return /^[aeiou]/i.test(kind) ? `an ${kind}` : `a ${kind}`;
}

function isLoopbackName(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  return ipaddr.isValid(host) && ipaddr.process(host).range() === 'loopback';
}
