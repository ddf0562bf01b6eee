import { describe, expect, it } from 'vitest';
import { checkAddress, refuseAddress, refuseUrl, type UrlPolicy } from './url-guard';

const deployed: UrlPolicy = { allowLoopback: false, allowHttp: false };
const local: UrlPolicy = { allowLoopback: true, allowHttp: true };

describe('refuseUrl', () => {
  it.each([
    // Other spellings of 127.0.0.1: WHATWG URL parsing turns them into the dotted quad.
    ['https://2130706433/', 'must not point to a loopback address'],
    ['https://0177.0.0.1/', 'must not point to a loopback address'],
    ['https://0x7f.1/', 'must not point to a loopback address'],
    ['https://0x7f000001/', 'must not point to a loopback address'],
    ['https://127.1/', 'must not point to a loopback address'],
    ['https://localhost/', 'must not point to a loopback address'],
    ['https://LOCALHOST./', 'must not point to a loopback address'],
    ['https://api.localhost/', 'must not point to a loopback address'],
    ['https://[::1]/', 'must not point to a loopback address'],
    // IPv6 spellings that embed an IPv4 address are judged by it.
    ['https://[::ffff:127.0.0.1]/', 'must not point to a loopback address'],
    ['https://[::ffff:7f00:1]/', 'must not point to a loopback address'],
    ['https://[::ffff:10.0.0.1]/', 'must not point to a private address'],
    ['https://[64:ff9b::a00:1]/', 'must not point to a private address'],
    ['https://[64:ff9b::7f00:1]/', 'must not point to a loopback address'],
    ['https://[64:ff9b::a9fe:a9fe]/', 'must not point to a link-local or metadata address'],
    ['https://[64:ff9b:1::a00:1]/', 'must not point to a reserved address'],
    ['https://[::a00:1]/', 'must not point to a reserved address'],
    ['https://[::ffff:0:a00:1]/', 'must not point to a reserved address'],
    ['https://[2002:a00:1::1]/', 'must not point to a 6to4 address'],
    ['https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', 'must not point to a Teredo address'],
    ['https://0.0.0.0/', 'must not point to an unspecified address'],
    ['https://0/', 'must not point to an unspecified address'],
    ['https://[::]/', 'must not point to an unspecified address'],
    ['https://100.64.0.1/', 'must not point to a carrier-grade NAT address'],
    ['https://192.168.1.1/', 'must not point to a private address'],
    ['https://172.16.0.1/', 'must not point to a private address'],
    ['https://172.31.255.255/', 'must not point to a private address'],
    ['https://10.1.2.3/', 'must not point to a private address'],
    ['https://[fc00::1]/', 'must not point to a private address'],
    ['https://[fd12:3456::1]/', 'must not point to a private address'],
    ['https://[fe80::1]/', 'must not point to a link-local address'],
    ['https://[fec0::1]/', 'must not point to a site-local address'],
    ['https://169.254.169.254/latest/meta-data/', 'must not point to a link-local or metadata address'],
    ['https://169.254.170.2/v2/credentials', 'must not point to a link-local or metadata address'],
    ['https://[fd00:ec2::254]/', 'must not point to a metadata address'],
    ['https://100.100.100.200/', 'must not point to a metadata address'],
    ['https://224.0.0.1/', 'must not point to a multicast address'],
    ['https://[ff02::1]/', 'must not point to a multicast address'],
    ['https://255.255.255.255/', 'must not point to a broadcast address'],
    ['https://192.0.2.1/', 'must not point to a reserved address'],
    ['https://240.0.0.1/', 'must not point to a reserved address'],
    ['https://[2001:db8::1]/', 'must not point to a reserved address'],
    ['https://[4000::1]/', 'must not point to a reserved address'],
    ['https://user:pass@example.com/', 'must not carry credentials'],
    ['https://user@example.com/', 'must not carry credentials'],
    ['ftp://example.com/a.png', 'must be an absolute http(s) URL'],
    ['file:///etc/passwd', 'must be an absolute http(s) URL'],
    ['gopher://example.com/', 'must be an absolute http(s) URL'],
    ['javascript:alert(1)', 'must be an absolute http(s) URL'],
    ['data:image/png;base64,AAAA', 'must be an absolute http(s) URL'],
    ['//example.com/a.png', 'must be an absolute http(s) URL'],
    ['https://[fe80::1%25eth0]/', 'must be an absolute http(s) URL'],
    ['http://example.com/', 'must use https'],
  ])('refuses %s in a deployed stage: %s', (url, reason) => {
    expect(refuseUrl(url, deployed)).toBe(reason);
  });

  it.each([
    'https://example.com/cb',
    'https://93.184.215.14/a.png',
    'https://[2606:4700::6810:84e5]/a.png',
    'https://[64:ff9b::5db8:d70e]/a.png',
    'https://[::ffff:93.184.215.14]/a.png',
    // A name is checked when it is called, not at submit: it need not resolve yet.
    'https://not-yet-registered.example/cb',
  ])('accepts %s', (url) => {
    expect(refuseUrl(url, deployed)).toBeUndefined();
  });

  it('allows loopback and http only in the local stack, and never metadata or private addresses', () => {
    for (const url of ['http://127.0.0.1:9000/cb', 'http://localhost:9000/cb', 'http://[::1]:9000/cb']) {
      expect(refuseUrl(url, local)).toBeUndefined();
    }
    expect(refuseUrl('http://[::ffff:127.0.0.1]/', local)).toBeUndefined();
    expect(refuseUrl('http://169.254.169.254/', local)).toBe(
      'must not point to a link-local or metadata address',
    );
    expect(refuseUrl('http://[fd00:ec2::254]/', local)).toBe('must not point to a metadata address');
    expect(refuseUrl('http://10.0.0.1/', local)).toBe('must not point to a private address');
    expect(refuseUrl('http://0.0.0.0/', local)).toBe('must not point to an unspecified address');
    // NAT64 reaches the gateway's own loopback, not ours.
    expect(refuseUrl('http://[64:ff9b::7f00:1]/', local)).toBe('must not point to a loopback address');
  });

  it('allows http with allowHttp, and http to loopback in the local stack even without it', () => {
    expect(refuseUrl('http://example.com/', { allowLoopback: false, allowHttp: true })).toBeUndefined();
    expect(refuseUrl('http://localhost:9000/', { allowLoopback: true, allowHttp: false })).toBeUndefined();
    expect(refuseUrl('http://example.com/', { allowLoopback: true, allowHttp: false })).toBe(
      'must use https',
    );
  });
});

describe('refuseAddress and checkAddress', () => {
  it('judges resolved addresses with the same rules', () => {
    expect(refuseAddress('10.0.0.1', deployed)).toBe('must not point to a private address');
    expect(refuseAddress('127.0.0.1', deployed)).toBe('must not point to a loopback address');
    expect(refuseAddress('127.0.0.1', local)).toBeUndefined();
    expect(refuseAddress('::1', local)).toBeUndefined();
    expect(refuseAddress('fe80::1%eth0', local)).toBe('must not point to a link-local address');
    expect(refuseAddress('not an address', local)).toBe('must not point to an invalid address');
    expect(refuseAddress('8.8.8.8', deployed)).toBeUndefined();
  });

  it('returns the address to connect to, with IPv4-mapped IPv6 unwrapped', () => {
    expect(checkAddress('::ffff:7f00:1', local)).toEqual({ allowed: true, address: '127.0.0.1', family: 4 });
    expect(checkAddress('::ffff:8.8.8.8', deployed)).toEqual({
      allowed: true,
      address: '8.8.8.8',
      family: 4,
    });
    // NAT64 stays IPv6: an IPv6-only network reaches the IPv4 host only through its gateway.
    expect(checkAddress('64:ff9b::808:808', deployed)).toEqual({
      allowed: true,
      address: '64:ff9b::808:808',
      family: 6,
    });
    expect(checkAddress('2606:4700:0:0:0:0:6810:84e5', deployed)).toEqual({
      allowed: true,
      address: '2606:4700::6810:84e5',
      family: 6,
    });
    expect(checkAddress('172.16.0.1', local)).toEqual({ allowed: false, kind: 'private' });
  });
});
