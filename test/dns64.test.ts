import { expect } from 'chai';
import dnsPacket, { type Answer, type DecodedPacket } from 'dns-packet';
import { createServer } from '../src/app.js';
import { parseCorefile } from '../src/corefile/parse.js';
import type { Dns64Plugin } from '../src/plugins/dns64/dns64.js';
import { embed, parsePrefix, type Prefix } from '../src/plugins/dns64/synthesize.js';
import { PLUGINS } from '../src/plugins/index.js';
import { queryBytes, rcodeOf, tcpRaw, udpRaw } from './support/dns.js';
import { startCorefile, type Running } from './support/server.js';
import { startUpstream, type Upstream, type UpstreamQuery, type AnswerSpec } from './support/upstream.js';

const V4 = '127.0.0.1';
const V6 = '::1';
const SOA: Answer = { name: 'example.org', type: 'SOA', ttl: 30, data: { mname: 'ns.example.org', rname: 'h.example.org', serial: 1, refresh: 60, retry: 60, expire: 60, minimum: 60 } };

/** A-only names, a dual-stack name, NXDOMAIN and SERVFAIL, as an authoritative upstream would answer them. */
function answer(q: UpstreamQuery): AnswerSpec {
  const n = q.name.toLowerCase();
  const a = (data: string, ttl: number): Answer => ({ name: q.name, type: 'A', ttl, data });
  if (n.startsWith('nx.')) return { rcode: 'NXDOMAIN', authorities: [SOA] };
  if (n === 'v4only.example.org') return q.type === 'A' ? { answers: [a('192.0.2.1', 300), a('192.0.2.2', 20)] } : { authorities: [SOA] };
  if (n === 'nosoa.example.org') return q.type === 'A' ? { answers: [a('192.0.2.3', 900)] } : {};
  if (n === 'sf.example.org') return q.type === 'A' ? { answers: [a('192.0.2.5', 60)] } : { rcode: 'SERVFAIL' };
  if (n === 'both.example.org') return q.type === 'A' ? { answers: [a('192.0.2.53', 60)] } : q.type === 'AAAA' ? { answers: [{ name: q.name, type: 'AAAA', ttl: 60, data: '2001:db8::53' }] } : {};
  return {};
}

async function aaaa(srv: Running, host: string, name: string, tcp = false): Promise<DecodedPacket> {
  const q = queryBytes(name, 'AAAA', { edns: 1232 });
  const raw = tcp ? (await tcpRaw(srv.port, [q], 1, 3000, host))[0] : await udpRaw(srv.port, q, 2000, host);
  if (!raw) throw new Error(`no answer for ${name}`);
  return dnsPacket.decode(raw);
}
const lines = (p: DecodedPacket): string[] => (p.answers ?? []).map((r) => `${r.name} ${(r as { ttl?: number }).ttl ?? ''} ${r.type} ${String((r as { data: unknown }).data)}`);

describe('dns64', () => {
  let up: Upstream;
  before(async () => { up = await startUpstream({ answer }); });
  after(async () => { await up.stop(); });

  const corefile = (dns64: string, extra = ''): string => `example.org {
  bind ${V4} ${V6}
  ${dns64}
  ${extra}
  hosts {
    192.0.2.10 h4.example.org
    2001:db8::10 h6.example.org
    fallthrough
  }
  forward . ${up.hostPort}
}
`;

  it('synthesizes AAAA from A for IPv6 clients (UDP and TCP), TTL min(A, SOA of the AAAA answer, else 600)', async () => {
    const srv = await startCorefile(corefile('dns64'));
    try {
      const before = up.count('v4only.example.org', 'A');
      const r = await aaaa(srv, V6, 'v4only.example.org');
      expect(rcodeOf(r)).to.equal('NOERROR');
      expect(lines(r)).to.deep.equal(['v4only.example.org 30 AAAA 64:ff9b::c000:201', 'v4only.example.org 20 AAAA 64:ff9b::c000:202']);
      expect(up.count('v4only.example.org', 'A')).to.equal(before + 1);

      expect(lines(await aaaa(srv, V6, 'nosoa.example.org', true))).to.deep.equal(['nosoa.example.org 600 AAAA 64:ff9b::c000:203']);
      // Any rcode but NXDOMAIN counts as "no AAAA" (RFC 6147 5.1.2).
      expect(lines(await aaaa(srv, V6, 'sf.example.org'))).to.deep.equal(['sf.example.org 60 AAAA 64:ff9b::c000:205']);
      // A real AAAA stays; NXDOMAIN stands.
      expect(lines(await aaaa(srv, V6, 'both.example.org', true))).to.deep.equal(['both.example.org 60 AAAA 2001:db8::53']);
      expect(rcodeOf(await aaaa(srv, V6, 'nx.example.org'))).to.equal('NXDOMAIN');
      // A hosts name with only an A (TTL 3600, its NODATA has no SOA: 600); one with an AAAA.
      expect(lines(await aaaa(srv, V6, 'h4.example.org'))).to.deep.equal(['h4.example.org 600 AAAA 64:ff9b::c000:20a']);
      expect(lines(await aaaa(srv, V6, 'h6.example.org'))).to.deep.equal(['h6.example.org 3600 AAAA 2001:db8::10']);

      // IPv4 clients are not translated.
      const v4 = await aaaa(srv, V4, 'v4only.example.org');
      expect(rcodeOf(v4)).to.equal('NOERROR');
      expect(v4.answers).to.have.length(0);

      const p = srv.server.currentBlocks()[0]?.plugins.find((x) => x.name === 'dns64') as Dns64Plugin;
      expect([...p.translated.values()].reduce((a, b) => a + b, 0)).to.equal(4);
    } finally {
      await srv.stop();
    }
  });

  it('prefix, translate_all and allow_ipv4: IPv4 clients translated, real AAAA replaced', async () => {
    const srv = await startCorefile(corefile('dns64 64:ff9b:1::/48 {\n    translate_all\n    allow_ipv4\n  }'));
    try {
      expect(lines(await aaaa(srv, V4, 'both.example.org'))).to.deep.equal(['both.example.org 60 AAAA 64:ff9b:1:c000:2:3500::']);
      expect(lines(await aaaa(srv, V4, 'h4.example.org', true))).to.deep.equal(['h4.example.org 600 AAAA 64:ff9b:1:c000:2:a00::']);
    } finally {
      await srv.stop();
    }
  });

  it('the A lookup comes from the same client: acl judges it, and acl answers are not translated', async () => {
    const srv = await startCorefile(corefile('dns64', `acl {\n    filter type AAAA net ${V6}\n  }`));
    try {
      const r = await aaaa(srv, V6, 'v4only.example.org');
      expect(rcodeOf(r)).to.equal('NOERROR');
      expect(r.answers, 'filtered AAAA is policy, not a missing record').to.have.length(0);
    } finally {
      await srv.stop();
    }
    const srv2 = await startCorefile(corefile('dns64', `acl {\n    block type A net ${V6}\n  }`));
    try {
      const r = await aaaa(srv2, V6, 'h4.example.org');
      // As CoreDNS: the A lookup is REFUSED for this client, so nothing is synthesized (an empty NOERROR).
      expect(rcodeOf(r)).to.equal('NOERROR');
      expect(r.answers).to.have.length(0);
    } finally {
      await srv2.stop();
    }
  });

  it('embeds IPv4 as RFC 6052 2.4 shows for every prefix length (u octet skipped)', () => {
    const pre = (t: string): Prefix => {
      const p = parsePrefix(t);
      if (typeof p === 'string') throw new Error(p);
      return p;
    };
    const cases: Array<[string, string]> = [
      ['2001:db8::/32', '2001:db8:c000:221::'],
      ['2001:db8:100::/40', '2001:db8:1c0:2:21::'],
      ['2001:db8:122::/48', '2001:db8:122:c000:2:2100::'],
      ['2001:db8:122:300::/56', '2001:db8:122:3c0:0:221::'],
      ['2001:db8:122:344::/64', '2001:db8:122:344:c0:2:2100:0'],
      ['2001:db8:122:344::/96', '2001:db8:122:344::c000:221'],
      ['64:ff9b::/96', '64:ff9b::c000:221'],
    ];
    for (const [p, want] of cases) expect(embed(pre(p), '192.0.2.33'), p).to.equal(want);
  });

  const build = (body: string) => createServer(parseCorefile(`example.org {\n${body}\n}\n`, { file: 'test.Corefile' }), { plugins: PLUGINS });
  const bad: Array<[string, RegExp]> = [
    ['dns64 64:ff9b::/72', /test\.Corefile:2: dns64: invalid prefix length \/72 in "64:ff9b::\/72": RFC 6052 allows \/32, \/40, \/48, \/56, \/64, \/96/],
    ['dns64 10.0.0.0/8', /test\.Corefile:2: dns64: invalid prefix "10\.0\.0\.0\/8": an IPv6 prefix is needed/],
    ['dns64 64:ff9b::', /test\.Corefile:2: dns64: invalid prefix "64:ff9b::": expected an IPv6 CIDR/],
    ['dns64 64:ff9b::/96 64:ff9c::/96', /test\.Corefile:2: dns64: wrong number of arguments \(got 2\)/],
    ['dns64 {\n  prefix\n}', /test\.Corefile:3: dns64: option "prefix": wrong number of arguments \(got 0\)/],
    ['dns64 {\n  translate_all yes\n}', /test\.Corefile:3: dns64: option "translate_all": wrong number of arguments/],
    ['dns64 {\n  prefix 64:ff9b::/33\n}', /test\.Corefile:3: dns64: invalid prefix length \/33/],
    ['dns64 {\n  ptr\n}', /test\.Corefile:3: dns64: unknown option "ptr"; accepted: prefix, translate_all, allow_ipv4/],
  ];
  for (const [body, re] of bad) {
    it(`refuses ${JSON.stringify(body)}`, () => {
      expect(() => build(body)).to.throw(re);
    });
  }
});
