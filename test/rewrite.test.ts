// The rewrite plugin over real sockets: a client asks clusterdns, which
// forwards to a test upstream on loopback. The upstream must see the
// rewritten query; the client must see its own question (and, with the
// answer options, its own names).

import { expect } from 'chai';
import dnsPacket, { type Answer, type DecodedPacket } from 'dns-packet';
import { LOOP_OPTION } from '../src/plugins/forward/hops.js';
import { rcodeOf, rrLines, tcpQuery, udpQuery } from './support/dns.js';
import { startCorefile, type Running } from './support/server.js';
import { defaultAnswer, startUpstream, type AnswerSpec, type Upstream, type UpstreamQuery } from './support/upstream.js';

type Opts = Parameters<typeof udpQuery>[3];

/** Asks over UDP and TCP; both must give the same answer. */
async function ask(port: number, name: string, type: string, opts: Opts = {}): Promise<DecodedPacket> {
  const u = await udpQuery(port, name, type, { edns: 1232, ...opts });
  const t = await tcpQuery(port, name, type, opts);
  expect(rrLines(t.answers), `TCP and UDP differ for ${name} ${type}`).to.deep.equal(rrLines(u.answers));
  expect(rcodeOf(t)).to.equal(rcodeOf(u));
  expect(t.questions).to.deep.equal(u.questions);
  return u;
}

/**
 * The options (code and data) of the OPT record of a query the upstream got; null without one.
 * Forward's loop marker (hop-by-hop between forwarders, forward/README) is not one of the query's options.
 */
function optionsOf(q: UpstreamQuery): Array<{ code: number; data: Buffer }> | null {
  const opt = dnsPacket.decode(q.raw).additionals?.find((a) => a.type === 'OPT') as { options?: Array<{ code: number; data: Buffer }> } | undefined;
  return opt === undefined ? null : (opt.options ?? []).filter((o) => o.code !== LOOP_OPTION).map((o) => ({ code: o.code, data: o.data }));
}

const ttlsOf = (p: DecodedPacket): number[] => (p.answers ?? []).map((a) => (a as { ttl?: number }).ttl ?? -1);

describe('rewrite', function () {
  this.timeout(10000);
  let up: Upstream;
  let srv: Running | null = null;
  const serve = async (rules: string, extra = ''): Promise<number> => {
    srv = await startCorefile(`. {\n${rules}\n${extra}\nforward . ${up.hostPort}\n}\n`);
    return srv.port;
  };
  const last = (): UpstreamQuery => {
    const q = up.queries[up.queries.length - 1];
    if (q === undefined) throw new Error('the upstream got no query');
    return q;
  };

  before(async () => { up = await startUpstream(); });
  after(async () => { await up.stop(); });
  beforeEach(() => { up.queries.length = 0; up.set({ answer: defaultAnswer }); });
  afterEach(async () => { await srv?.stop(); srv = null; });

  describe('name', () => {
    it('exact: the upstream gets the new name, the client its own question and owner names', async () => {
      const port = await serve('rewrite name foo.example.com foo.default.svc.cluster.local');
      const a = await ask(port, 'Foo.Example.COM', 'A');
      expect(up.queries.map((q) => `${q.proto} ${q.name}`)).to.deep.equal(['udp foo.default.svc.cluster.local', 'tcp foo.default.svc.cluster.local']);
      expect(a.questions).to.deep.equal([{ name: 'Foo.Example.COM', type: 'A', class: 'IN' }]);
      expect(rrLines(a.answers)).to.deep.equal(['foo.example.com A 192.0.2.53']);
      // Other names pass untouched.
      await ask(port, 'bar.example.com', 'A');
      expect(last().name).to.equal('bar.example.com');
    });

    it('prefix, suffix and substring rewrite the part they match', async () => {
      for (const [rule, asked, sent] of [
        ['rewrite name prefix foo. bar.', 'foo.example.org', 'bar.example.org'],
        ['rewrite name suffix .example.org .example.net', 'www.example.org', 'www.example.net'],
        ['rewrite name substring service.us-west-1.example.org service.us-west-1.consul', 'ftp.service.us-west-1.example.org', 'ftp.service.us-west-1.consul'],
      ] as const) {
        const port = await serve(rule);
        const a = await ask(port, asked, 'A');
        expect(last().name, rule).to.equal(sent);
        expect(a.questions?.[0]?.name).to.equal(asked);
        // Without an answer option, owner names stay as the upstream wrote them (as CoreDNS).
        expect(rrLines(a.answers), rule).to.deep.equal([`${sent} A 192.0.2.53`]);
        await srv?.stop();
        srv = null;
      }
    });

    it('regex with {1} {2} groups', async () => {
      const port = await serve('rewrite name regex (.*)-(us-west-1)\\.example\\.org {1}.service.{2}.consul');
      const a = await ask(port, 'ftp-us-west-1.example.org', 'A');
      expect(last().name).to.equal('ftp.service.us-west-1.consul');
      expect(rrLines(a.answers)).to.deep.equal(['ftp.service.us-west-1.consul A 192.0.2.53']);
      await ask(port, 'ftp-eu-1.example.org', 'A');
      expect(last().name).to.equal('ftp-eu-1.example.org');
    });

    it('answer auto on a suffix rule swaps the suffix back in owners and CNAME targets', async () => {
      up.set({
        answer: (q) => ({
          answers: [
            { name: q.name, type: 'CNAME', ttl: 60, data: `web.${q.name.split('.').slice(1).join('.')}` },
            { name: `web.${q.name.split('.').slice(1).join('.')}`, type: 'A', ttl: 60, data: '192.0.2.7' },
          ],
        }),
      });
      const port = await serve('rewrite name suffix .coredns.rocks .service.consul answer auto');
      const a = await ask(port, 'www.coredns.rocks', 'A');
      expect(last().name).to.equal('www.service.consul');
      expect(rrLines(a.answers)).to.deep.equal(['www.coredns.rocks CNAME web.coredns.rocks', 'web.coredns.rocks A 192.0.2.7']);
    });

    it('answer auto on a regex rule maps the rewritten name and names below it back', async () => {
      const port = await serve('rewrite name regex ^api\\.(.*)\\.$ backend.{1} answer auto');
      const a = await ask(port, 'api.example.org', 'A');
      expect(last().name).to.equal('backend.example.org');
      expect(rrLines(a.answers)).to.deep.equal(['api.example.org A 192.0.2.53']);
    });

    it('the multi-line form with answer name and answer value (SRV, MX, CNAME targets)', async () => {
      up.set({
        answer: (q): AnswerSpec => {
          if (q.type === 'SRV') return { answers: [{ name: q.name, type: 'SRV', ttl: 60, data: { priority: 1, weight: 1, port: 80, target: 'ftp.service.us-west-1.consul' } }] };
          if (q.type === 'MX') return { answers: [{ name: q.name, type: 'MX', ttl: 60, data: { preference: 10, exchange: 'mail.service.us-west-1.consul' } }] };
          return { answers: [{ name: q.name, type: 'CNAME', ttl: 60, data: 'www.service.us-west-1.consul' }] };
        },
      });
      const port = await serve(`rewrite stop {
    name regex (.*)-(us-west-1)\\.coredns\\.rocks {1}.service.{2}.consul
    answer name (.*)\\.service\\.(us-west-1)\\.consul {1}-{2}.coredns.rocks
    answer value (.*)\\.service\\.(us-west-1)\\.consul\\. {1}-{2}.coredns.rocks
}`);
      const srvA = await ask(port, 'ftp-us-west-1.coredns.rocks', 'SRV');
      expect(last().name).to.equal('ftp.service.us-west-1.consul');
      expect(rrLines(srvA.answers)).to.deep.equal(['ftp-us-west-1.coredns.rocks SRV {"priority":1,"weight":1,"port":80,"target":"ftp-us-west-1.coredns.rocks"}']);
      const mx = await ask(port, 'ftp-us-west-1.coredns.rocks', 'MX');
      expect(rrLines(mx.answers)).to.deep.equal(['ftp-us-west-1.coredns.rocks MX {"preference":10,"exchange":"mail-us-west-1.coredns.rocks"}']);
      const cname = await ask(port, 'ftp-us-west-1.coredns.rocks', 'A');
      expect(rrLines(cname.answers)).to.deep.equal(['ftp-us-west-1.coredns.rocks CNAME www-us-west-1.coredns.rocks']);
    });

    it('answers built by a plugin (sections) are restored too', async () => {
      srv = await startCorefile(`. {
    rewrite name alias.example.org real.example.org
    hosts {
        192.0.2.44 real.example.org
    }
}
`);
      const a = await ask(srv.port, 'alias.example.org', 'A');
      expect(a.questions?.[0]?.name).to.equal('alias.example.org');
      expect(rrLines(a.answers)).to.deep.equal(['alias.example.org A 192.0.2.44']);
    });

    it('a rewrite to an invalid name answers SERVFAIL and sends nothing upstream', async () => {
      const port = await serve('rewrite name substring . ..', 'errors');
      expect(rcodeOf(await ask(port, 'www.example.org', 'A'))).to.equal('SERVFAIL');
      expect(up.queries).to.have.length(0);
    });

    it('the cache (after rewrite in the chain) holds the rewritten name; every hit goes back with the client\'s names', async () => {
      const port = await serve('rewrite name foo.example.com bar.example.net', 'cache 30');
      for (let i = 0; i < 3; i++) {
        const a = await udpQuery(port, 'foo.example.com', 'A', { edns: 1232 });
        expect(rrLines(a.answers)).to.deep.equal(['foo.example.com A 192.0.2.53']);
      }
      expect(up.count('bar.example.net')).to.equal(1);
    });
  });

  describe('stop and continue', () => {
    const rules = (mode: string) => `rewrite ${mode} name prefix a. b.\nrewrite name suffix .example.org. .example.net.\nrewrite name suffix .example.net. .example.com.`;

    it('stop (the default) ends the rules at the first that applies', async () => {
      const port = await serve(rules('stop'));
      await ask(port, 'a.example.org', 'A');
      expect(last().name).to.equal('b.example.org');
      await ask(port, 'x.example.org', 'A');
      expect(last().name).to.equal('x.example.net');
    });

    it('continue lets the next rules see the rewritten name', async () => {
      const port = await serve(rules('continue'));
      const a = await ask(port, 'a.example.org', 'A');
      expect(last().name).to.equal('b.example.net');
      expect(a.questions?.[0]?.name).to.equal('a.example.org');
    });

    it('response rewrites run last rule first', async () => {
      const port = await serve('rewrite continue name suffix .one. .two. answer auto\nrewrite name suffix .two. .three. answer auto');
      const a = await ask(port, 'www.one', 'A');
      expect(last().name).to.equal('www.three');
      expect(rrLines(a.answers)).to.deep.equal(['www.one A 192.0.2.53']);
    });
  });

  describe('type and class', () => {
    it('type: the upstream gets the new type, the client its own question', async () => {
      up.set({ answer: (q) => (q.type === 'HINFO' ? { answers: [{ name: q.name, type: 'HINFO', ttl: 60, data: { cpu: 'RFC8482', os: '' } }] } : {}) });
      const port = await serve('rewrite type ANY HINFO');
      const a = await ask(port, 'example.org', 'ANY');
      expect(last().type).to.equal('HINFO');
      expect(a.questions).to.deep.equal([{ name: 'example.org', type: 'ANY', class: 'IN' }]);
      expect(rrLines(a.answers)).to.deep.equal(['example.org HINFO {"cpu":"RFC8482","os":""}']);
    });

    it('class: a CH query is rewritten to IN and answered by the IN chain', async () => {
      const port = await serve('rewrite class CH IN');
      const a = await ask(port, 'www.example.org', 'A', { qclass: 'CH' });
      expect(last().qclass).to.equal('IN');
      expect(rcodeOf(a)).to.equal('NOERROR');
      expect(a.questions).to.deep.equal([{ name: 'www.example.org', type: 'A', class: 'CH' }]);
      expect(rrLines(a.answers)).to.deep.equal(['www.example.org A 192.0.2.53']);
      // HS is still refused: nothing in the block serves it.
      expect(rcodeOf(await udpQuery(port, 'www.example.org', 'A', { qclass: 'HS' }))).to.equal('REFUSED');
    });
  });

  describe('ttl', () => {
    const ttls = (list: number[]) => (q: UpstreamQuery): AnswerSpec => ({
      answers: list.map((ttl, i): Answer => ({ name: q.name, type: 'A', ttl, data: `192.0.2.${i + 1}` })),
    });

    it('a single value sets every TTL', async () => {
      up.set({ answer: ttls([5, 3600]) });
      const port = await serve('rewrite ttl example.com. 15');
      expect(ttlsOf(await ask(port, 'example.com', 'A'))).to.deep.equal([15, 15]);
      expect(ttlsOf(await ask(port, 'other.com', 'A'))).to.deep.equal([5, 3600]);
    });

    it('a range clamps below and above and keeps what is inside', async () => {
      up.set({ answer: ttls([5, 100, 1000]) });
      const port = await serve('rewrite ttl example.com. 10-300');
      expect(ttlsOf(await ask(port, 'example.com', 'A'))).to.deep.equal([10, 100, 300]);
    });

    it('open ranges and the regex match type', async () => {
      up.set({ answer: ttls([5, 100, 1000]) });
      let port = await serve('rewrite ttl regex (.*)\\.coredns\\.rocks 30-');
      expect(ttlsOf(await ask(port, 'a.coredns.rocks', 'A'))).to.deep.equal([30, 100, 1000]);
      await srv?.stop();
      port = await serve('rewrite ttl suffix .coredns.rocks -30');
      expect(ttlsOf(await ask(port, 'a.coredns.rocks', 'A'))).to.deep.equal([5, 30, 30]);
    });
  });

  describe('rcode', () => {
    it('SERVFAIL becomes NOERROR for matching names only', async () => {
      up.set({ answer: () => ({ rcode: 'SERVFAIL' }) });
      const port = await serve('rewrite continue {\n    rcode regex (.*)\\.coredns\\.rocks SERVFAIL NOERROR\n}');
      expect(rcodeOf(await ask(port, 'www.coredns.rocks', 'AAAA'))).to.equal('NOERROR');
      expect(rcodeOf(await ask(port, 'www.example.org', 'AAAA'))).to.equal('SERVFAIL');
    });

    it('numeric codes; other rcodes are left alone', async () => {
      up.set({ answer: (q) => ({ rcode: q.name.startsWith('nx') ? 'NXDOMAIN' : 'REFUSED' }) });
      const port = await serve('rewrite rcode suffix example.org. 5 3');
      expect(rcodeOf(await ask(port, 'www.example.org', 'A'))).to.equal('NXDOMAIN');
      expect(rcodeOf(await ask(port, 'nx.example.org', 'A'))).to.equal('NXDOMAIN');
      expect(rcodeOf(await ask(port, 'www.example.net', 'A'))).to.equal('REFUSED');
    });
  });

  describe('cname', () => {
    it('rewrites the CNAME target and looks the new target up', async () => {
      up.set({
        answer: (q): AnswerSpec => {
          const n = q.name.toLowerCase();
          if (n === 'my-app.com') {
            return {
              answers: [
                { name: 'my-app.com', type: 'CNAME', ttl: 200, data: 'my-app.example' },
                { name: 'my-app.example', type: 'CNAME', ttl: 200, data: 'my-app.com.cdn.example.net' },
                { name: 'my-app.com.cdn.example.net', type: 'A', ttl: 300, data: '20.2.0.1' },
              ],
            };
          }
          if (n === 'my-app.com.other.cdn.com') return { answers: [{ name: n, type: 'A', ttl: 100, data: '30.3.1.2' }] };
          return {};
        },
      });
      const port = await serve('rewrite cname regex (.*).cdn.example.net. {1}.other.cdn.com.');
      const a = await ask(port, 'my-app.com', 'A');
      expect(rrLines(a.answers)).to.deep.equal([
        'my-app.com CNAME my-app.example',
        'my-app.example CNAME my-app.com.other.cdn.com',
        'my-app.com.other.cdn.com A 30.3.1.2',
      ]);
      expect(up.count('my-app.com.other.cdn.com', 'A')).to.be.greaterThan(0);
      // Many clients at once: each gets the rewritten chain.
      const all = await Promise.all(Array.from({ length: 8 }, () => udpQuery(port, 'my-app.com', 'A', { edns: 1232 })));
      for (const p of all) expect(rrLines(p.answers).at(-1)).to.equal('my-app.com.other.cdn.com A 30.3.1.2');
    });

    it('a new target whose answer leads back to the rewritten CNAME is looked up once, not forever', async () => {
      up.set({
        answer: (q): AnswerSpec => {
          const n = q.name.toLowerCase();
          if (n === 'start.loop') return { answers: [{ name: n, type: 'CNAME', ttl: 60, data: 'a.loop' }] };
          if (n === 'b.loop') return { answers: [{ name: n, type: 'CNAME', ttl: 60, data: 'a.loop' }] };
          return {};
        },
      });
      const port = await serve('rewrite cname exact a.loop. b.loop.');
      const a = await ask(port, 'start.loop', 'A');
      expect(rrLines(a.answers)).to.deep.equal(['start.loop CNAME b.loop', 'b.loop CNAME a.loop']);
      expect(up.count('b.loop', 'A')).to.equal(2);
    });
  });

  describe('edns0', () => {
    it('local set with hex data and with text data', async () => {
      const port = await serve('rewrite continue edns0 local set 0xffee 0x61626364\nrewrite edns0 local set 65000 hello');
      await ask(port, 'example.org', 'A');
      expect(optionsOf(last())).to.deep.equal([{ code: 0xffee, data: Buffer.from('abcd') }, { code: 65000, data: Buffer.from('hello') }]);
    });

    it('a query without EDNS gets an OPT record upstream; the client gets none back', async () => {
      const port = await serve('rewrite edns0 local set 0xffee abcd');
      const a = await tcpQuery(port, 'example.org', 'A');
      expect(optionsOf(last())).to.deep.equal([{ code: 0xffee, data: Buffer.from('abcd') }]);
      expect(last().ednsSize).to.equal(4096);
      expect((a.additionals ?? []).filter((x) => x.type === 'OPT')).to.have.length(0);
      expect(rrLines(a.answers)).to.deep.equal(['example.org A 192.0.2.53']);
    });

    it('variables: qname, qtype, client and server address and port, protocol', async () => {
      const vars = ['{qname}', '{qtype}', '{client_ip}', '{client_port}', '{protocol}', '{server_ip}', '{server_port}'];
      const port = await serve(vars.map((v, i) => `rewrite continue edns0 local set ${0xff00 + i} ${v}`).join('\n'));
      await tcpQuery(port, 'Example.org', 'AAAA');
      const got = optionsOf(last()) ?? [];
      const u16 = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; };
      expect(got.map((o) => o.code)).to.deep.equal(vars.map((_, i) => 0xff00 + i));
      expect(got[0]?.data).to.deep.equal(Buffer.from('Example.org.'));
      expect(got[1]?.data).to.deep.equal(u16(28));
      expect(got[2]?.data).to.deep.equal(Buffer.from([127, 0, 0, 1]));
      expect(got[3]?.data.length).to.equal(2);
      expect(got[4]?.data).to.deep.equal(Buffer.from('tcp'));
      expect(got[5]?.data).to.deep.equal(Buffer.from([127, 0, 0, 1]));
      expect(got[6]?.data).to.deep.equal(u16(port));
    });

    it('replace only replaces, append only adds, unset removes', async () => {
      let port = await serve('rewrite edns0 local replace 0xffee abcd');
      await ask(port, 'example.org', 'A');
      // The second query came without EDNS: forward adds its own OPT (the loop marker's carrier), nothing else.
      expect(up.queries.map(optionsOf)).to.deep.equal([[], []]);
      await srv?.stop();
      port = await serve('rewrite continue edns0 local append 0xffee first\nrewrite continue edns0 local append 0xffee second\nrewrite continue edns0 local replace 0xffee third\nrewrite edns0 local unset 0xfffe');
      await ask(port, 'example.org', 'A');
      expect(optionsOf(last())).to.deep.equal([{ code: 0xffee, data: Buffer.from('third') }]);
    });

    it('nsid adds an empty NSID option', async () => {
      const port = await serve('rewrite edns0 nsid set');
      await ask(port, 'example.org', 'A');
      expect(optionsOf(last())).to.deep.equal([{ code: 3, data: Buffer.alloc(0) }]);
    });

    it('subnet adds the client address cut to the prefix', async () => {
      const port = await serve('rewrite edns0 subnet set 24 56');
      await ask(port, 'example.org', 'A');
      expect(optionsOf(last())).to.deep.equal([{ code: 8, data: Buffer.from([0, 1, 24, 0, 127, 0, 0]) }]);
      // On the wire only the 3 octets the prefix covers are sent (RFC 7871 6).
      // (code 8, length 7, family 1, source 24, scope 0, 127.0.0): the option as sent, whatever follows it (forward's loop marker).
      expect(last().raw.toString('hex')).to.contain('00080007000118007f0000');
    });
  });
});
