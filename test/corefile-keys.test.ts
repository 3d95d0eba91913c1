import { expect } from 'chai';
import { nth } from './support/nth.js';
import { CorefileError } from '../src/corefile/errors.js';
import { parseServerKey } from '../src/corefile/keys.js';

const at = { file: 'Corefile', line: 3 };
const zones = (key: string) => parseServerKey(key, at).map((k) => k.zone);
const one = (key: string) => {
  const ks = parseServerKey(key, at);
  expect(ks).to.have.length(1);
  return nth(ks, 0);
};
function rejects(key: string, reason: RegExp): void {
  let err: unknown;
  try {
    parseServerKey(key, at);
  } catch (e) {
    err = e;
  }
  expect(err, key).to.be.instanceOf(CorefileError);
  expect((err as CorefileError).message).to.match(/^Corefile:3: server key /);
  expect((err as CorefileError).reason).to.match(reason);
}

describe('corefile server keys', () => {
  it('accepts the usual forms', () => {
    expect(one('.')).to.deep.equal({ zone: '.', port: null, transport: 'dns' });
    expect(one('.:53')).to.deep.equal({ zone: '.', port: 53, transport: 'dns' });
    expect(one('example.org')).to.deep.equal({ zone: 'example.org', port: null, transport: 'dns' });
    expect(one('Example.ORG.')).to.deep.equal({ zone: 'example.org', port: null, transport: 'dns' });
    expect(one('cluster.local:1053')).to.deep.equal({ zone: 'cluster.local', port: 1053, transport: 'dns' });
    expect(one('dns://example.org:5300')).to.deep.equal({ zone: 'example.org', port: 5300, transport: 'dns' });
    expect(one('dns://.:1053')).to.deep.equal({ zone: '.', port: 1053, transport: 'dns' });
    expect(one('DNS://.')).to.deep.equal({ zone: '.', port: null, transport: 'dns' });
    expect(one('in-addr.arpa')).to.deep.equal({ zone: 'in-addr.arpa', port: null, transport: 'dns' });
  });

  it('reads tls:// keys (DNS over TLS)', () => {
    expect(one('tls://.:853')).to.deep.equal({ zone: '.', port: 853, transport: 'tls' });
    expect(one('TLS://example.org')).to.deep.equal({ zone: 'example.org', port: null, transport: 'tls' });
    expect(zones('tls://10.0.0.0/23')).to.deep.equal(['0.0.10.in-addr.arpa', '1.0.10.in-addr.arpa']);
  });

  it('rejects other transports with a clear reason', () => {
    for (const s of ['https', 'grpc', 'quic']) rejects(`${s}://.:853`, new RegExp(`${s}:// is not supported; only dns://`));
    rejects('foo://.', /unknown transport foo:\/\//);
  });

  it('validates ports', () => {
    rejects('.:0', /out of range 1..65535/);
    rejects('.:65536', /out of range/);
    rejects('.:', /missing port/);
    rejects('example.org:dns', /invalid port "dns"/);
    rejects(':53', /empty zone/);
    expect(one('.:65535').port).to.equal(65535);
  });

  it('validates zone names', () => {
    rejects('a..b', /empty label/);
    rejects('.a', /empty label/);
    rejects(`${'a'.repeat(64)}.com`, /longer than 63/);
    rejects(Array(64).fill('abcd').join('.'), /longer than 253/);
    rejects('exa mple', /invalid character/);
    expect(one(`${'a'.repeat(63)}.com`).zone).to.have.length(67);
  });

  it('turns IPv4 CIDRs into reverse zones', () => {
    expect(zones('10.0.0.0/24')).to.deep.equal(['0.0.10.in-addr.arpa']);
    expect(zones('10.0.0.0/8')).to.deep.equal(['10.in-addr.arpa']);
    expect(zones('10.0.0.0/16:1053')).to.deep.equal(['0.10.in-addr.arpa']);
    expect(nth(parseServerKey('10.0.0.0/16:1053', at), 0).port).to.equal(1053);
    expect(zones('192.168.1.7/32')).to.deep.equal(['7.1.168.192.in-addr.arpa']);
    expect(zones('0.0.0.0/0')).to.deep.equal(['in-addr.arpa']);
    // host bits are ignored, like Go's net.ParseCIDR
    expect(zones('10.1.2.3/8')).to.deep.equal(['10.in-addr.arpa']);
  });

  it('expands non-octet IPv4 prefixes to the classful zones inside', () => {
    expect(zones('10.0.0.0/22')).to.deep.equal(['0.0.10.in-addr.arpa', '1.0.10.in-addr.arpa', '2.0.10.in-addr.arpa', '3.0.10.in-addr.arpa']);
    expect(zones('172.16.0.0/12')).to.have.length(16);
    expect(zones('172.16.0.0/12')[15]).to.equal('31.172.in-addr.arpa');
    expect(zones('10.0.0.0/25')).to.have.length(128);
    expect(zones('10.0.0.0/25')[127]).to.equal('127.0.0.10.in-addr.arpa');
  });

  it('turns IPv6 CIDRs into ip6.arpa zones, expanding non-nibble prefixes', () => {
    expect(zones('fd00::/64')).to.deep.equal(['0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa']);
    expect(zones('2001:db8::/32')).to.deep.equal(['8.b.d.0.1.0.0.2.ip6.arpa']);
    expect(zones('fd00::/8')).to.deep.equal(['d.f.ip6.arpa']);
    expect(zones('fd00::/7')).to.deep.equal(['c.f.ip6.arpa', 'd.f.ip6.arpa']);
    expect(zones('2001:db8::/30')).to.deep.equal(['8.b.d.0.1.0.0.2.ip6.arpa', '9.b.d.0.1.0.0.2.ip6.arpa', 'a.b.d.0.1.0.0.2.ip6.arpa', 'b.b.d.0.1.0.0.2.ip6.arpa']);
    expect(zones('::/0')).to.deep.equal(['ip6.arpa']);
    expect(parseServerKey('fd00::/64:53', at)[0]).to.deep.equal({ zone: '0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa', port: 53, transport: 'dns' });
    expect(zones('::ffff:10.0.0.0/120')).to.deep.equal(['0.0.0.0.a.0.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa']);
  });

  it('rejects bad CIDRs', () => {
    rejects('10.0.0.0/33', /invalid CIDR/);
    rejects('10.0.0/24', /invalid CIDR/);
    rejects('300.0.0.0/8', /invalid CIDR/);
    rejects('fd00::/129', /invalid CIDR/);
    rejects('fd00:::1/64', /invalid CIDR/);
    rejects('10.0.0.0/', /invalid CIDR/);
  });
});
