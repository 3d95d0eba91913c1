import { expect } from 'chai';
import type { DecodedPacket } from 'dns-packet';
import { createServer } from '../src/app.js';
import { parseCorefile } from '../src/corefile/parse.js';
import type { LocalPlugin } from '../src/plugins/local/local.js';
import { rcodeOf, tcpQuery, udpQuery } from './support/dns.js';
import { startCorefile, type Running } from './support/server.js';
import { startUpstream, type Upstream } from './support/upstream.js';

/** "name TTL type data" with SOA data in zone-file order. */
function lines(rrs: DecodedPacket['answers']): string[] {
  return (rrs ?? []).filter((r) => r.type !== 'OPT').map((r) => {
    const rr = r as { name: string; type: string; ttl: number; data: unknown };
    const d = rr.data;
    const text = rr.type === 'SOA'
      ? (() => { const s = d as { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number };
        return `${s.mname} ${s.rname} ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`; })()
      : String(d);
    return `${rr.name} ${rr.ttl} ${rr.type} ${text}`;
  });
}

const SOA = 'localhost root.localhost 1 0 0 0 604800';

// Modelled on CoreDNS's plugin/local/local_test.go.
const CASES: Array<[string, string, string, string[], string[]]> = [
  ['localhost', 'A', 'NOERROR', ['localhost 604800 A 127.0.0.1'], []],
  ['localHOst', 'A', 'NOERROR', ['localHOst 604800 A 127.0.0.1'], []],
  ['localhost', 'AAAA', 'NOERROR', ['localhost 604800 AAAA ::1'], []],
  ['localhost', 'NS', 'NOERROR', ['localhost 604800 NS localhost'], []],
  ['localhost', 'SOA', 'NOERROR', [`localhost 604800 SOA ${SOA}`], []],
  ['127.in-addr.arpa', 'A', 'NOERROR', [], [`127.in-addr.arpa 604800 SOA ${SOA}`]],
  ['0.in-addr.arpa', 'NS', 'NOERROR', ['0.in-addr.arpa 604800 NS localhost'], []],
  ['255.in-addr.arpa', 'SOA', 'NOERROR', [`255.in-addr.arpa 604800 SOA ${SOA}`], []],
  ['localhost', 'MX', 'NOERROR', [], [`localhost 604800 SOA ${SOA}`]],
  ['a.localhost', 'A', 'NOERROR', ['a.localhost 604800 A 127.0.0.1'], []],
  ['a.localhost', 'AAAA', 'NOERROR', ['a.localhost 604800 AAAA ::1'], []],
  ['a.localhost', 'MX', 'NOERROR', [], [`a.localhost 604800 SOA ${SOA}`]],
  ['localhost.example.org', 'A', 'NOERROR', ['localhost.example.org 604800 A 127.0.0.1'], []],
  ['1.0.0.127.in-addr.arpa', 'PTR', 'NOERROR', ['1.0.0.127.in-addr.arpa 604800 PTR localhost'], []],
  ['1.0.0.127.in-addr.arpa', 'MX', 'NOERROR', [], [`127.in-addr.arpa 604800 SOA ${SOA}`]],
  ['2.0.0.127.IN-ADDR.arpa', 'PTR', 'NXDOMAIN', [], [`127.IN-ADDR.arpa 604800 SOA ${SOA}`]],
  ['x.0.in-addr.arpa', 'A', 'NXDOMAIN', [], [`0.in-addr.arpa 604800 SOA ${SOA}`]],
];

describe('local plugin', () => {
  let up: Upstream;
  let srv: Running;
  let strict: Running;
  before(async () => {
    up = await startUpstream();
    srv = await startCorefile(`. {\n  local\n  forward . ${up.hostPort}\n}\n`);
    strict = await startCorefile(`. {\n  local {\n    localhost_prefix off\n  }\n  forward . ${up.hostPort}\n}\n`);
  });
  after(async () => { await srv.stop(); await strict.stop(); await up.stop(); });

  for (const query of [udpQuery, tcpQuery]) {
    for (const [name, type, rcode, answer, authority] of CASES) {
      it(`${name} ${type} -> ${rcode} over ${query.name}`, async () => {
        const p = await query(srv.port, name, type);
        expect(rcodeOf(p)).to.equal(rcode);
        expect(p.flag_aa).to.equal(false);
        expect(lines(p.answers)).to.deep.equal(answer);
        expect(lines(p.authorities)).to.deep.equal(authority);
      });
    }
  }

  it('never sends local names upstream; other names go down the chain', async () => {
    const before = up.queries.length;
    for (const [name, type] of CASES) await udpQuery(srv.port, name, type);
    expect(up.queries.length - before).to.equal(0);
    await udpQuery(srv.port, 'example.org', 'A');
    expect(up.count('example.org', 'A')).to.equal(1);
    // ip6.arpa is not intercepted, as in CoreDNS.
    await udpQuery(srv.port, '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa', 'PTR');
    expect(up.queries.length - before).to.equal(2);
  });

  it('with localhost_prefix off, localhost.<domain> goes down the chain; names under .localhost. are still answered', async () => {
    const p = await udpQuery(strict.port, 'localhost.example.net', 'A');
    expect(up.count('localhost.example.net', 'A')).to.equal(1);
    expect(lines(p.answers)).to.not.include('localhost.example.net 604800 A 127.0.0.1');
    expect(lines((await udpQuery(strict.port, 'b.localhost', 'A')).answers)).to.deep.equal(['b.localhost 604800 A 127.0.0.1']);
  });

  it('counts non-apex localhost queries (coredns_local_localhost_requests_total), not localhost. itself', async () => {
    const s = await startCorefile('. {\n  local\n}\n');
    try {
      const plugin = s.server.currentBlocks()[0]!.plugins.find((p) => p.name === 'local') as LocalPlugin;
      await udpQuery(s.port, 'localhost', 'A');
      await udpQuery(s.port, '127.in-addr.arpa', 'SOA');
      expect(plugin.localhostRequests).to.equal(0);
      await udpQuery(s.port, 'a.localhost', 'A');
      await tcpQuery(s.port, 'localhost.example.org', 'AAAA');
      expect(plugin.localhostRequests).to.equal(2);
    } finally {
      await s.stop();
    }
  });

  const bad: Array<[string, RegExp]> = [
    ['local example.org', /test\.Corefile:2: local: wrong number of arguments \(got 1\)/],
    ['local {\n  foo\n}', /test\.Corefile:3: local: unknown option "foo"; accepted: localhost_prefix/],
    ['local {\n  localhost_prefix maybe\n}', /test\.Corefile:3: local: localhost_prefix expects "on" or "off", got "maybe"/],
    ['local {\n  localhost_prefix\n}', /test\.Corefile:3: local: option "localhost_prefix": wrong number of arguments \(got 0\); usage: localhost_prefix on\|off/],
  ];
  for (const [body, re] of bad) {
    it(`refuses ${JSON.stringify(body)}`, () => {
      expect(() => createServer(parseCorefile(`. {\n${body}\n}\n`, { file: 'test.Corefile' }))).to.throw(re);
    });
  }
});
