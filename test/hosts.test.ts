import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from '../src/app.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { RCODE } from '../src/dns/constants.js';
import { records } from '../src/dns/reply.js';
import { setLogSink } from '../src/log.js';
import { parseHostsText } from '../src/plugins/hosts/hosts.js';
import { PLUGINS } from '../src/plugins/index.js';
import type { PluginDefinition, Request } from '../src/server/plugin.js';
import { rcodeOf, rrLines, udpQuery } from './support/dns.js';
import { startCorefile, type Running } from './support/server.js';

/** `next`: answers TXT "next" for anything that reaches it, and counts. */
let nextCalls = 0;
const nextPlugin: PluginDefinition = {
  name: 'next',
  setup: () => ({
    name: 'next',
    serve(req: Request) {
      nextCalls++;
      return records(RCODE.NOERROR, 'next', false, [{ name: req.name, type: 'TXT', ttl: 1, data: ['next'] }]);
    },
  }),
};
const plugins = [...PLUGINS, nextPlugin];

const HOSTS = `# a hosts file
10.0.0.1   web.example.org  Web2.Example.Org.   # two names
10.0.0.2\tweb.example.org
2001:db8::5 v6.example.org web.example.org
fe80::1%eth0 link.example.org
10.0.0.9 outside.example.net
192.168.1.10 *.wild.example.org
192.168.1.11 a.wild.example.org
not-an-ip broken.example.org
10.0.0.99
10.0.0.8 bad_name!.example.org ok.example.org
`;

describe('hosts', () => {
  let dir: string;
  let file: string;
  let srv: Running;

  before(async () => {
    setLogSink(() => undefined);
    dir = mkdtempSync(join(tmpdir(), 'clusterdns-hosts-'));
    file = join(dir, 'hosts');
    writeFileSync(file, HOSTS);
    srv = await startCorefile(`
. {
    hosts ${file} example.org {
        10.0.0.3 inline.example.org web.example.org
        ttl 60
        reload 50ms
    }
}
fall.test {
    hosts ${file} fall.test {
        10.1.0.1 a.fall.test
        fallthrough
    }
    next
}
part.test {
    hosts ${file} part.test {
        10.2.0.1 a.x.part.test
        fallthrough x.part.test
    }
    next
}
norev.test 3.10.in-addr.arpa {
    hosts ${file} norev.test {
        10.3.0.1 a.norev.test
        no_reverse
        reload 0
    }
    next
}
`, { plugins });
  });
  after(async () => {
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
    setLogSink(null);
  });
  beforeEach(() => { nextCalls = 0; });

  it('answers A and AAAA from the file and inline lines, file first, authoritative, with the ttl', async () => {
    const a = await udpQuery(srv.port, 'WEB.example.org', 'A');
    expect(rcodeOf(a)).to.equal('NOERROR');
    expect(a.flag_aa).to.equal(true);
    expect(rrLines(a.answers)).to.deep.equal(['WEB.example.org A 10.0.0.1', 'WEB.example.org A 10.0.0.2', 'WEB.example.org A 10.0.0.3']);
    expect((a.answers![0] as { ttl: number }).ttl).to.equal(60);
    const six = await udpQuery(srv.port, 'web.example.org', 'AAAA');
    expect(rrLines(six.answers)).to.deep.equal(['web.example.org AAAA 2001:db8::5']);
    const link = await udpQuery(srv.port, 'link.example.org', 'AAAA');
    expect(rrLines(link.answers)).to.deep.equal(['link.example.org AAAA fe80::1'], 'the %zone is dropped');
    const mixed = await udpQuery(srv.port, 'web2.example.org', 'A');
    expect(rrLines(mixed.answers)).to.deep.equal(['web2.example.org A 10.0.0.1'], 'names are case-insensitive, trailing dot ignored');
  });

  it('answers PTR for every name of an address, inline and IPv6 included', async () => {
    const p = await udpQuery(srv.port, '1.0.0.10.in-addr.arpa', 'PTR');
    expect(rrLines(p.answers)).to.deep.equal(['1.0.0.10.in-addr.arpa PTR web.example.org', '1.0.0.10.in-addr.arpa PTR web2.example.org']);
    const inline = await udpQuery(srv.port, '3.0.0.10.in-addr.arpa', 'PTR');
    expect(rrLines(inline.answers)).to.deep.equal(['3.0.0.10.in-addr.arpa PTR inline.example.org', '3.0.0.10.in-addr.arpa PTR web.example.org']);
    const v6 = await udpQuery(srv.port, '5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa', 'PTR');
    const rev6 = '5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa';
    expect(rrLines(v6.answers)).to.deep.equal([`${rev6} PTR v6.example.org`, `${rev6} PTR web.example.org`]);
  });

  it('ignores names outside its zones and lines it cannot read', async () => {
    const out = await udpQuery(srv.port, 'outside.example.net', 'A');
    expect(rcodeOf(out)).to.equal('SERVFAIL', 'not hosts\' zone: the chain goes on and ends');
    const ptr = await udpQuery(srv.port, '9.0.0.10.in-addr.arpa', 'PTR');
    expect(rcodeOf(ptr)).to.equal('SERVFAIL', 'no PTR for a name that was ignored');
    const ok = await udpQuery(srv.port, 'ok.example.org', 'A');
    expect(rrLines(ok.answers)).to.deep.equal(['ok.example.org A 10.0.0.8'], 'a bad name does not spoil the line');
    expect(parseHostsText(HOSTS).map((l) => l.ip)).to.deep.equal(['10.0.0.1', '10.0.0.2', '2001:db8::5', 'fe80::1', '10.0.0.9', '192.168.1.10', '192.168.1.11', '10.0.0.8']);
  });

  it('answers NODATA for a known name and another type, SERVFAIL for an unknown name (as CoreDNS)', async () => {
    const nodata = await udpQuery(srv.port, 'web.example.org', 'TXT');
    expect(rcodeOf(nodata)).to.equal('NOERROR');
    expect(nodata.answers ?? []).to.have.length(0);
    expect(nodata.flag_aa).to.equal(true);
    const v4only = await udpQuery(srv.port, 'inline.example.org', 'AAAA');
    expect(rcodeOf(v4only)).to.equal('NOERROR');
    expect(v4only.answers ?? []).to.have.length(0);
    const unknown = await udpQuery(srv.port, 'nobody.example.org', 'A');
    expect(rcodeOf(unknown)).to.equal('SERVFAIL');
  });

  it('matches a *.name entry for exactly one more label, explicit entries first', async () => {
    const w = await udpQuery(srv.port, 'apps.wild.example.org', 'A');
    expect(rrLines(w.answers)).to.deep.equal(['apps.wild.example.org A 192.168.1.10']);
    const exact = await udpQuery(srv.port, 'a.wild.example.org', 'A');
    expect(rrLines(exact.answers)).to.deep.equal(['a.wild.example.org A 192.168.1.11']);
    expect(rcodeOf(await udpQuery(srv.port, 'wild.example.org', 'A'))).to.equal('SERVFAIL');
    expect(rcodeOf(await udpQuery(srv.port, 'deep.apps.wild.example.org', 'A'))).to.equal('SERVFAIL');
    const ptr = await udpQuery(srv.port, '10.1.168.192.in-addr.arpa', 'PTR');
    expect(rcodeOf(ptr)).to.equal('SERVFAIL', 'wildcards make no PTR');
  });

  it('falls through for names it does not have, all zones or the listed ones', async () => {
    const a = await udpQuery(srv.port, 'a.fall.test', 'A');
    expect(rrLines(a.answers)).to.deep.equal(['a.fall.test A 10.1.0.1']);
    const other = await udpQuery(srv.port, 'b.fall.test', 'A');
    expect(rrLines(other.answers)).to.deep.equal(['b.fall.test TXT next']);
    expect(nextCalls).to.equal(1);
    // NODATA is not a reason to fall through.
    const nodata = await udpQuery(srv.port, 'a.fall.test', 'MX');
    expect(rcodeOf(nodata)).to.equal('NOERROR');
    expect(nextCalls).to.equal(1);
    // fallthrough x.part.test: only names there go on.
    expect(rrLines((await udpQuery(srv.port, 'b.x.part.test', 'A')).answers)).to.deep.equal(['b.x.part.test TXT next']);
    expect(rcodeOf(await udpQuery(srv.port, 'b.part.test', 'A'))).to.equal('SERVFAIL');
    expect(nextCalls).to.equal(2);
  });

  it('passes PTR for unknown addresses on, and makes no PTR with no_reverse', async () => {
    const unknown = await udpQuery(srv.port, '1.0.4.10.in-addr.arpa', 'PTR');
    expect(rcodeOf(unknown)).to.equal('SERVFAIL', 'the chain ends after hosts in the root block');
    const a = await udpQuery(srv.port, 'a.norev.test', 'A');
    expect(rrLines(a.answers)).to.deep.equal(['a.norev.test A 10.3.0.1']);
    const ptr = await udpQuery(srv.port, '1.0.3.10.in-addr.arpa', 'PTR');
    expect(rrLines(ptr.answers)).to.deep.equal(['1.0.3.10.in-addr.arpa TXT next'], 'no_reverse: no PTR, the query goes on');
    expect(nextCalls).to.equal(1);
  });

  it('re-reads the file when it changes, and keeps inline entries when it is deleted', async function () {
    this.timeout(5000);
    writeFileSync(file, `${HOSTS}10.0.0.77 new.example.org\n`);
    let got: string[] = [];
    for (let i = 0; i < 40 && got.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 25));
      got = rrLines((await udpQuery(srv.port, 'new.example.org', 'A')).answers);
    }
    expect(got).to.deep.equal(['new.example.org A 10.0.0.77']);
    rmSync(file);
    let rcode = 'NOERROR';
    for (let i = 0; i < 40 && rcode === 'NOERROR'; i++) {
      await new Promise((r) => setTimeout(r, 25));
      rcode = rcodeOf(await udpQuery(srv.port, 'new.example.org', 'A'));
    }
    expect(rcode).to.equal('SERVFAIL');
    const inline = await udpQuery(srv.port, 'web.example.org', 'A');
    expect(rrLines(inline.answers)).to.deep.equal(['web.example.org A 10.0.0.3']);
    writeFileSync(file, HOSTS);
    let back: string[] = [];
    for (let i = 0; i < 40 && back.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 25));
      back = rrLines((await udpQuery(srv.port, 'web.example.org', 'A')).answers);
    }
    expect(back).to.have.length(3);
  });
});

describe('hosts configuration', () => {
  let dir: string;
  before(() => {
    setLogSink(() => undefined);
    dir = mkdtempSync(join(tmpdir(), 'clusterdns-hosts-cfg-'));
    writeFileSync(join(dir, 'h'), '10.0.0.1 a.example.org\n');
    mkdirSync(join(dir, 'd'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    setLogSink(null);
  });
  const build = (body: string) => createServer(parseCorefile(`example.org {\n${body}\n}\n`, { file: 'test.Corefile' }), { plugins });

  const bad: Array<[string, RegExp]> = [
    ['hosts FILE {\n  ttl 0\n}', /test\.Corefile:3: invalid hosts ttl \(seconds\) "0": expected an integer from 1 to 65535/],
    ['hosts FILE {\n  ttl 70000\n}', /test\.Corefile:3: invalid hosts ttl/],
    ['hosts FILE {\n  ttl\n}', /test\.Corefile:3: hosts: option "ttl": wrong number of arguments/],
    ['hosts FILE {\n  reload soon\n}', /test\.Corefile:3: invalid duration "soon"/],
    ['hosts FILE {\n  reload -5s\n}', /test\.Corefile:3: invalid duration "-5s": must not be negative/],
    ['hosts FILE {\n  no_reverse please\n}', /test\.Corefile:3: hosts: option "no_reverse": wrong number of arguments/],
    ['hosts FILE {\n  frobnicate\n}', /test\.Corefile:3: hosts: unknown option "frobnicate"; accepted: ttl, no_reverse, reload, fallthrough/],
    ['hosts FILE {\n  10.0.0.1\n}', /test\.Corefile:3: hosts: inline line "10.0.0.1" needs at least one name/],
    ['hosts FILE {\n  10.0.0.1 bad_name!\n}', /test\.Corefile:3: hosts: invalid host name "bad_name!"/],
    ['hosts FILE {\n  ttl 5\n  ttl 6\n}', /test\.Corefile:4: hosts: option "ttl" is given twice/],
    ['hosts FILE {\n  fallthrough_unsupported\n}', /test\.Corefile:3: hosts: fallthrough_unsupported needs fallthrough/],
    ['hosts FILE example.org:53', /test\.Corefile:2: hosts: zone "example.org:53" must not carry a port/],
    ['hosts FILE\nhosts FILE', /test\.Corefile:3: hosts appears more than once/],
  ];
  for (const [body, re] of bad) {
    it(`refuses ${JSON.stringify(body)}`, () => {
      expect(() => build(body.replaceAll('FILE', join(dir, 'h')))).to.throw(re);
    });
  }

  it('accepts a missing file or a directory (warned, inline still served) and CoreDNS\'s syntax', () => {
    build(`hosts ${join(dir, 'missing')} {\n  10.0.0.2 b.example.org\n}`);
    build(`hosts ${join(dir, 'd')}`);
    build(`hosts ${join(dir, 'h')} example.org 10.0.0.0/8 {\n  10.0.0.2 b.example.org\n  ttl 30\n  no_reverse\n  reload 0\n  fallthrough example.org\n  fallthrough_unsupported\n}`);
    build('hosts');
  });
});
