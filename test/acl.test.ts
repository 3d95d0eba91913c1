import { expect } from 'chai';
import dnsPacket from 'dns-packet';
import { createServer } from '../src/app.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { setLogSink } from '../src/log.js';
import type { AclPlugin } from '../src/plugins/acl/acl.js';
import { PLUGINS } from '../src/plugins/index.js';
import { answerPlugin } from './support/answer-plugin.js';
import { queryBytes, rcodeOf, tcpRaw, udpRaw } from './support/dns.js';
import { startCorefile, type Running } from './support/server.js';

const plugins = [...PLUGINS, answerPlugin];
const V4 = '127.0.0.1';
const V6 = '::1';

async function udp(srv: Running, host: string, name: string, type: string, edns?: number): Promise<Buffer | null> {
  return udpRaw(srv.port, queryBytes(name, type, { edns }), 400, host);
}

/** The extended DNS error code our OPT carries (the last option of the message, as acl writes it). */
function ede(raw: Buffer): number | null {
  const opt = dnsPacket.decode(raw).additionals?.find((a) => a.type === 'OPT') as { options?: Array<{ code: number; data?: Buffer }> } | undefined;
  const o = opt?.options?.find((x) => x.code === 15);
  return o?.data ? o.data.readUInt16BE(0) : null;
}

function aclOf(srv: Running): AclPlugin {
  const p = srv.server.currentBlocks()[0]?.plugins.find((x) => x.name === 'acl');
  if (p === undefined) throw new Error('no acl plugin');
  return p as AclPlugin;
}


/** inject()'s answer when it must be a single message (a transfer would be several). */
function oneMessage(x: Buffer | Buffer[] | null): Buffer {
  if (!Buffer.isBuffer(x)) throw new Error(`expected one answer message, got ${x === null ? 'none' : `${x.length} messages`}`);
  return x;
}

describe('acl', () => {
  const lines: string[] = [];
  before(() => setLogSink((l) => lines.push(l)));
  after(() => setLogSink(null));
  beforeEach(() => { lines.length = 0; });

  const corefile = `example.org {
  bind ${V4} ${V6}
  log . "LOG|{remote}|{type}|{rcode}|{>rflags}|{rsize}"
  acl {
    allow type A net 127.0.0.1
    block type A AAAA net 127.0.0.0/8
    filter net ::1/128 type MX
    drop type TXT
  }
  answer 1
}
`;

  it('first matching policy wins: allow, block (REFUSED + EDE 15), filter (NODATA + EDE 17), default allow, over UDP from IPv4 and IPv6', async () => {
    const srv = await startCorefile(corefile, { plugins });
    try {
      const allowed = dnsPacket.decode((await udp(srv, V4, 'www.example.org', 'A'))!);
      expect(rcodeOf(allowed)).to.equal('NOERROR');
      expect(allowed.answers).to.have.length(1);

      const blocked = (await udp(srv, V4, 'www.example.org', 'AAAA', 1232))!;
      expect(rcodeOf(dnsPacket.decode(blocked))).to.equal('REFUSED');
      expect(ede(blocked)).to.equal(15);
      const blockedPlain = dnsPacket.decode((await udp(srv, V4, 'www.example.org', 'AAAA'))!);
      expect(rcodeOf(blockedPlain)).to.equal('REFUSED');
      expect(blockedPlain.additionals ?? [], 'no OPT for a client without EDNS').to.have.length(0);

      // ::1 is outside 127.0.0.0/8: AAAA passes on to the answer plugin.
      expect(rcodeOf(dnsPacket.decode((await udp(srv, V6, 'www.example.org', 'AAAA'))!))).to.equal('NOERROR');

      const filtered = (await udp(srv, V6, 'www.example.org', 'MX', 1232))!;
      const f = dnsPacket.decode(filtered);
      expect(rcodeOf(f)).to.equal('NOERROR');
      expect(f.answers).to.have.length(0);
      expect(ede(filtered)).to.equal(17);
      expect(rcodeOf(dnsPacket.decode((await udp(srv, V4, 'www.example.org', 'MX'))!))).to.equal('NOERROR');
      expect(dnsPacket.decode((await udp(srv, V4, 'www.example.org', 'MX'))!).answers).to.have.length(1);

      expect(await udp(srv, V4, 'www.example.org', 'TXT'), 'dropped: no answer').to.equal(null);
      expect(await udp(srv, V6, 'www.example.org', 'TXT'), 'dropped: no answer').to.equal(null);

      const c = aclOf(srv).counts;
      const key = `dns://${V4}:${srv.port}\texample.org.`;
      expect(c.blocked.get(key)).to.equal(2);
      expect(c.filtered.get(`dns://[::1]:${srv.port}\texample.org.`)).to.equal(1);
      expect([...c.dropped.values()].reduce((a, b) => a + b, 0)).to.equal(2);
      expect([...c.allowed.values()].reduce((a, b) => a + b, 0)).to.equal(4);

      const dropLines = lines.filter((l) => l.includes('LOG|') && l.includes('|TXT|'));
      expect(dropLines).to.deep.equal(['[INFO] LOG|127.0.0.1|TXT|-|-|0', '[INFO] LOG|[::1]|TXT|-|-|0']);
    } finally {
      await srv.stop();
    }
  });

  it('the same over TCP: a dropped query gets no answer while the connection keeps serving', async () => {
    const srv = await startCorefile(corefile, { plugins });
    try {
      for (const host of [V4, V6]) {
        const qs = [queryBytes('a.example.org', 'TXT', { id: 1 }), queryBytes('a.example.org', 'AAAA', { id: 2 }), queryBytes('b.example.org', 'TXT', { id: 3 }), queryBytes('a.example.org', 'MX', { id: 4 })];
        const answers = (await tcpRaw(srv.port, qs, 2, 3000, host)).map((b) => dnsPacket.decode(b));
        expect(answers.map((a) => a.id)).to.deep.equal([2, 4]);
        expect(answers.map(rcodeOf)).to.deep.equal(host === V4 ? ['REFUSED', 'NOERROR'] : ['NOERROR', 'NOERROR']);
        expect(answers[1]?.answers).to.have.length(host === V4 ? 1 : 0);
      }
    } finally {
      await srv.stop();
    }
  });

  it('several acl lines are one rule list: an allow in the first ends the search; ZONES limit a rule', async () => {
    const srv = await startCorefile(`example.org {\n  bind ${V4} ${V6}\n  acl sub.example.org {\n    allow net 127.0.0.1\n  }\n  acl {\n    block\n  }\n  answer 1\n}\n`, { plugins });
    try {
      const rc = async (host: string, name: string): Promise<string> => rcodeOf(dnsPacket.decode((await udp(srv, host, name, 'A'))!));
      expect(await rc(V4, 'x.sub.example.org')).to.equal('NOERROR');
      expect(await rc(V4, 'www.example.org')).to.equal('REFUSED');
      expect(await rc(V6, 'x.sub.example.org')).to.equal('REFUSED');
      const c = aclOf(srv).counts;
      // Labelled per listener (server) and the rule's matched zone.
      expect([...c.blocked.entries()].sort()).to.deep.equal([[`dns://${V4}:${srv.port}\texample.org.`, 1], [`dns://[::1]:${srv.port}\texample.org.`, 1]]);
    } finally {
      await srv.stop();
    }
  });

  it('type * and net * match everything; an IPv4 client of a dual-stack socket matches IPv4 networks', async () => {
    const srv = await startCorefile(`example.org {\n  acl {\n    block type * net 10.1.0.0/16\n    filter net *\n  }\n  answer 1\n}\n`, { plugins });
    try {
      const a = await srv.server.inject(queryBytes('www.example.org', 'SRV'), { remoteAddress: '::ffff:10.1.2.3' });
      expect(rcodeOf(dnsPacket.decode(oneMessage(a)))).to.equal('REFUSED');
      const b = await srv.server.inject(queryBytes('www.example.org', 'A'), { remoteAddress: '2001:db8::1' });
      expect(rcodeOf(dnsPacket.decode(oneMessage(b)))).to.equal('NOERROR');
      expect(dnsPacket.decode(oneMessage(b)).answers).to.have.length(0);
    } finally {
      await srv.stop();
    }
  });

  const build = (body: string) => createServer(parseCorefile(`example.org {\n${body}\n}\n`, { file: 'test.Corefile' }), { plugins });
  const bad: Array<[string, RegExp]> = [
    ['acl {\n  deny net 10.0.0.0/8\n}', /test\.Corefile:3: acl: unexpected token "deny"; expect 'allow', 'block', 'filter' or 'drop'/],
    ['acl {\n  block net 10.0.0.0/33\n}', /test\.Corefile:3: acl: illegal CIDR notation "10\.0\.0\.0\/33"/],
    ['acl {\n  block net example.org\n}', /test\.Corefile:3: acl: illegal CIDR notation "example\.org"/],
    ['acl {\n  block type BOGUS\n}', /test\.Corefile:3: acl: unexpected token "BOGUS"; expect legal QTYPE/],
    ['acl {\n  block type net 10.0.0.0/8\n}', /test\.Corefile:3: acl: no token specified in "type" section/],
    ['acl {\n  block from 10.0.0.0/8\n}', /test\.Corefile:3: acl: unexpected token "from"; expect 'type \| net'/],
    ['acl example.org:53 {\n  block\n}', /test\.Corefile:2: acl: zone "example\.org:53" must not carry a port/],
    ['acl {\n  allow\n}\nacl {\n  drop net ::1/200\n}', /test\.Corefile:6: acl: illegal CIDR notation/],
  ];
  for (const [body, re] of bad) {
    it(`refuses ${JSON.stringify(body)}`, () => {
      expect(() => build(body)).to.throw(re);
    });
  }
});
