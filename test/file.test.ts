import { expect } from 'chai';
import dnsPacket, { type DecodedPacket } from 'dns-packet';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setLogSink } from '../src/log.js';
import { queryBytes, rcodeOf, rrLines, tcpQuery, tcpRaw, udpQuery, udpRaw } from './support/dns.js';
import { freePort, startCorefile, type Running } from './support/server.js';
import { startUpstream, type Upstream } from './support/upstream.js';

const EXAMPLE_ORG = `; the main test zone
$ORIGIN example.org.
$TTL 3600
@       IN SOA ns1 hostmaster (
            2024010101 ; serial
            7200 3600 1209600
            300 )      ; minimum
        IN NS ns1
        IN NS ns.example.net.
        IN MX 10 mail
        IN CAA 0 issue "letsencrypt.org"
ns1     IN A 192.0.2.53
mail    IN A 192.0.2.25
        IN AAAA 2001:db8::25
www     IN A 192.0.2.1
        IN AAAA 2001:db8::1
_http._tcp IN SRV 0 5 80 www
txt     IN TXT "hello world" "say \\"hi\\""
a.b.c   IN A 192.0.2.2
*.wild  IN A 192.0.2.3
sub.wild IN TXT "sub"
alias   IN CNAME www
alias2  IN CNAME alias
ext     IN CNAME host.upstream.test.
loop1   IN CNAME loop2
loop2   IN CNAME loop1
deleg   IN NS ns.deleg
        IN NS ns.other.test.
ns.deleg IN A 192.0.2.54
deleg   IN DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118
pingpong IN CNAME pong.example.net.
has\\046dot IN A 192.0.2.8
`;

const EXAMPLE_NET = `$ORIGIN example.net.
@ 300 IN SOA ns hostmaster 7 7200 3600 1209600 60
  300 IN NS ns
ns 300 IN A 192.0.2.99
pong 300 IN CNAME pingpong.example.org.
`;

const FALL_TEST = `@ 60 IN SOA ns hostmaster 1 7200 3600 1209600 60
here 60 IN A 192.0.2.77
`;

const data = (rr: unknown): unknown => (rr as { data?: unknown }).data;
const aa = (p: DecodedPacket): boolean => ((p.flags ?? 0) & 0x400) !== 0;

describe('file plugin over UDP and TCP', function () {
  this.timeout(15000);
  let dir: string;
  let up: Upstream;
  let srv: Running;
  let port: number;
  const logs: string[] = [];

  before(async () => {
    setLogSink((l) => logs.push(l));
    dir = mkdtempSync(join(tmpdir(), 'clusterdns-file-'));
    writeFileSync(join(dir, 'db.example.org'), EXAMPLE_ORG);
    writeFileSync(join(dir, 'db.example.net'), EXAMPLE_NET);
    writeFileSync(join(dir, 'db.fall'), FALL_TEST);
    up = await startUpstream();
    srv = await startCorefile(`
example.org example.net {
    file ${dir}/db.example.org example.org
    file ${dir}/db.example.net example.net {
        reload 0
    }
}
. {
    file ${dir}/db.fall fall.test {
        fallthrough
    }
    forward . ${up.hostPort}
}
`);
    port = srv.port;
  });

  after(async () => {
    await srv?.stop();
    await up?.stop();
    setLogSink(null);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers A and AAAA authoritatively with the apex NS in authority, over UDP and TCP', async () => {
    for (const q of [udpQuery, tcpQuery]) {
      const a = await q(port, 'WWW.example.org', 'A');
      expect(rcodeOf(a)).to.equal('NOERROR');
      expect(aa(a)).to.equal(true);
      expect(rrLines(a.answers)).to.deep.equal(['WWW.example.org A 192.0.2.1']);
      expect(rrLines(a.authorities)).to.deep.equal(['example.org NS ns1.example.org', 'example.org NS ns.example.net']);
      const aaaa = await q(port, 'www.example.org', 'AAAA');
      expect(rrLines(aaaa.answers)).to.deep.equal(['www.example.org AAAA 2001:db8::1']);
    }
  });

  it('answers MX and SRV with the in-zone targets\' addresses in additional', async () => {
    const mx = await udpQuery(port, 'example.org', 'MX');
    expect(mx.answers?.map(data)).to.deep.equal([{ preference: 10, exchange: 'mail.example.org' }]);
    expect(rrLines(mx.additionals)).to.deep.equal(['mail.example.org A 192.0.2.25', 'mail.example.org AAAA 2001:db8::25']);
    const srv2 = await tcpQuery(port, '_http._tcp.example.org', 'SRV');
    expect(srv2.answers?.map(data)).to.deep.equal([{ priority: 0, weight: 5, port: 80, target: 'www.example.org' }]);
    expect(rrLines(srv2.additionals)).to.deep.equal(['www.example.org A 192.0.2.1', 'www.example.org AAAA 2001:db8::1']);
  });

  it('answers TXT with spaces and escaped quotes, and CAA', async () => {
    const txt = await udpQuery(port, 'txt.example.org', 'TXT');
    expect((data(txt.answers?.[0]) as Buffer[]).map(String)).to.deep.equal(['hello world', 'say "hi"']);
    const caa = await tcpQuery(port, 'example.org', 'CAA');
    expect(caa.answers?.map(data)).to.deep.equal([{ flags: 0, tag: 'issue', value: 'letsencrypt.org', issuerCritical: false }]);
  });

  it('answers SOA and NS at the apex (NS with glue)', async () => {
    const soa = await udpQuery(port, 'example.org', 'SOA');
    expect(soa.answers?.map(data)).to.deep.equal([{ mname: 'ns1.example.org', rname: 'hostmaster.example.org', serial: 2024010101, refresh: 7200, retry: 3600, expire: 1209600, minimum: 300 }]);
    const ns = await udpQuery(port, 'example.org', 'NS');
    expect(rrLines(ns.answers)).to.have.length(2);
    expect(rrLines(ns.additionals)).to.deep.equal(['ns1.example.org A 192.0.2.53']);
  });

  it('tells NXDOMAIN from NODATA, both with the zone SOA (its own TTL, as CoreDNS) in authority', async () => {
    for (const q of [udpQuery, tcpQuery]) {
      const nx = await q(port, 'nope.example.org', 'A');
      expect(rcodeOf(nx)).to.equal('NXDOMAIN');
      expect(aa(nx)).to.equal(true);
      expect(nx.answers).to.have.length(0);
      expect(nx.authorities?.map((r) => `${r.name} ${r.type} ${(r as { ttl?: number }).ttl}`)).to.deep.equal(['example.org SOA 3600']);
      const nodata = await q(port, 'www.example.org', 'MX');
      expect(rcodeOf(nodata)).to.equal('NOERROR');
      expect(nodata.answers).to.have.length(0);
      expect(rrLines(nodata.authorities).map((l) => l.split(' ').slice(0, 2).join(' '))).to.deep.equal(['example.org SOA']);
    }
  });

  it('answers an empty non-terminal with NODATA, not NXDOMAIN', async () => {
    for (const name of ['b.c.example.org', 'c.example.org']) {
      const r = await udpQuery(port, name, 'A');
      expect(rcodeOf(r), name).to.equal('NOERROR');
      expect(r.answers).to.have.length(0);
      expect(r.authorities?.[0]?.type).to.equal('SOA');
    }
    expect(rcodeOf(await udpQuery(port, 'x.b.c.example.org', 'A'))).to.equal('NXDOMAIN');
  });

  it('synthesizes from a wildcard, but not below a name that exists (RFC 4592)', async () => {
    const w = await udpQuery(port, 'anything.wild.example.org', 'A');
    expect(rrLines(w.answers)).to.deep.equal(['anything.wild.example.org A 192.0.2.3']);
    expect(rrLines((await udpQuery(port, 'a.b.wild.example.org', 'A')).answers)).to.deep.equal(['a.b.wild.example.org A 192.0.2.3']);
    const below = await udpQuery(port, 'x.sub.wild.example.org', 'A');
    expect(rcodeOf(below)).to.equal('NXDOMAIN');
    const nodata = await udpQuery(port, 'anything.wild.example.org', 'TXT');
    expect(rcodeOf(nodata)).to.equal('NOERROR');
    expect(nodata.answers).to.have.length(0);
  });

  it('chases a CNAME chain inside the zone', async () => {
    const r = await tcpQuery(port, 'alias2.example.org', 'A');
    expect(rrLines(r.answers)).to.deep.equal([
      'alias2.example.org CNAME alias.example.org', 'alias.example.org CNAME www.example.org', 'www.example.org A 192.0.2.1',
    ]);
    expect(aa(r)).to.equal(true);
    const c = await udpQuery(port, 'alias2.example.org', 'CNAME');
    expect(rrLines(c.answers)).to.deep.equal(['alias2.example.org CNAME alias.example.org']);
  });

  it('resolves a CNAME target outside its zones through the server (forward here)', async () => {
    const r = await udpQuery(port, 'ext.example.org', 'A');
    expect(rcodeOf(r)).to.equal('NOERROR');
    expect(rrLines(r.answers)).to.deep.equal(['ext.example.org CNAME host.upstream.test', 'host.upstream.test A 192.0.2.53']);
    expect(up.count('host.upstream.test', 'A')).to.be.greaterThan(0);
  });

  it('ends a chain at an in-zone name without the type as NODATA (SOA in authority)', async () => {
    const r = await udpQuery(port, 'alias.example.org', 'MX');
    expect(rcodeOf(r)).to.equal('NOERROR');
    expect(rrLines(r.answers)).to.deep.equal(['alias.example.org CNAME www.example.org']);
    expect(r.authorities?.map((x) => x.type)).to.deep.equal(['SOA']);
  });

  it('bounds a CNAME loop across zones of two file directives in one block and through the server', async () => {
    // pingpong.example.org -> pong.example.net (other directive, so through the server) -> pingpong.example.org ...
    const r = await udpQuery(port, 'pingpong.example.org', 'A');
    expect(rcodeOf(r)).to.equal('SERVFAIL');
    expect(rrLines(r.answers).slice(0, 2)).to.deep.equal(['pingpong.example.org CNAME pong.example.net', 'pong.example.net CNAME pingpong.example.org']);
    // The server is still answering.
    expect(rrLines((await udpQuery(port, 'www.example.org', 'A')).answers)).to.have.length(1);
  });

  it('stops a CNAME loop in the zone with each CNAME once', async () => {
    const r = await udpQuery(port, 'loop1.example.org', 'A');
    expect(rcodeOf(r)).to.equal('NOERROR');
    expect(rrLines(r.answers)).to.deep.equal(['loop1.example.org CNAME loop2.example.org', 'loop2.example.org CNAME loop1.example.org']);
  });

  it('refers names at and below a zone cut: NS in authority, glue in additional, AA clear', async () => {
    for (const [name, type] of [['deleg.example.org', 'NS'], ['host.deleg.example.org', 'A'], ['ns.deleg.example.org', 'A']] as const) {
      const r = await udpQuery(port, name, type);
      expect(rcodeOf(r), name).to.equal('NOERROR');
      expect(aa(r), name).to.equal(false);
      expect(r.answers, name).to.have.length(0);
      expect(rrLines(r.authorities), name).to.deep.equal(['deleg.example.org NS ns.deleg.example.org', 'deleg.example.org NS ns.other.test']);
      expect(rrLines(r.additionals), name).to.deep.equal(['ns.deleg.example.org A 192.0.2.54']);
    }
    // DS belongs to the parent side of the cut: answered by us, authoritatively.
    const ds = await udpQuery(port, 'deleg.example.org', 'DS');
    expect(rcodeOf(ds)).to.equal('NOERROR');
    expect(aa(ds)).to.equal(true);
    expect(ds.answers?.map((r) => (data(r) as { keyTag: number }).keyTag)).to.deep.equal([60485]);
    expect(rcodeOf(await udpQuery(port, 'x.deleg.example.org', 'DS'))).to.equal('NOERROR');
  });

  it('serves two zones in one server block', async () => {
    const r = await udpQuery(port, 'ns.example.net', 'A');
    expect(rrLines(r.answers)).to.deep.equal(['ns.example.net A 192.0.2.99']);
    expect(rcodeOf(await udpQuery(port, 'x.example.net', 'A'))).to.equal('NXDOMAIN');
  });

  it('passes names outside its zones to the next plugin, and NXDOMAIN names on with fallthrough', async () => {
    const out = await udpQuery(port, 'other.test', 'A');
    expect(rrLines(out.answers)).to.deep.equal(['other.test A 192.0.2.53']);
    const here = await udpQuery(port, 'here.fall.test', 'A');
    expect(rrLines(here.answers)).to.deep.equal(['here.fall.test A 192.0.2.77']);
    expect(aa(here)).to.equal(true);
    const before = up.count('gone.fall.test', 'A');
    const gone = await udpQuery(port, 'gone.fall.test', 'A');
    expect(rrLines(gone.answers)).to.deep.equal(['gone.fall.test A 192.0.2.53']);
    expect(up.count('gone.fall.test', 'A')).to.equal(before + 1);
    // NODATA is an answer, not a miss: no fallthrough.
    const nodata = await udpQuery(port, 'here.fall.test', 'TXT');
    expect(nodata.answers).to.have.length(0);
    expect(up.count('here.fall.test')).to.equal(0);
  });

  it('matches an owner with an escaped dot to the query whose label holds a dot', async () => {
    const labels = ['has.dot', 'example', 'org'].map((l) => Buffer.concat([Buffer.of(l.length), Buffer.from(l)]));
    const q = Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
    const raw = await udpRaw(port, q);
    expect(raw).to.not.equal(null);
    const p = dnsPacket.decode(raw ?? Buffer.alloc(0));
    expect(rcodeOf(p)).to.equal('NOERROR');
    expect(p.answers?.map(data)).to.deep.equal(['192.0.2.8']);
  });

  it('refuses AXFR and IXFR (zone transfers need the transfer plugin)', async () => {
    const [raw] = await tcpRaw(port, [queryBytes('example.org', 'AXFR')]);
    expect((raw?.[3] ?? 0xff) & 0xf).to.equal(5);
  });
});

describe('file plugin: a CNAME target no server block serves', () => {
  let dir: string;
  let srv: Running;
  before(async () => {
    setLogSink(() => undefined);
    dir = mkdtempSync(join(tmpdir(), 'clusterdns-file-'));
    writeFileSync(join(dir, 'db'), EXAMPLE_ORG);
    srv = await startCorefile(`example.org {\n    file db\n}\n`.replace('file db', `file ${dir}/db`));
  });
  after(async () => {
    await srv?.stop();
    setLogSink(null);
    rmSync(dir, { recursive: true, force: true });
  });

  it('is left for the client: the CNAME alone, NOERROR', async () => {
    const r = await udpQuery(srv.port, 'ext.example.org', 'A');
    expect(rcodeOf(r)).to.equal('NOERROR');
    expect(rrLines(r.answers)).to.deep.equal(['ext.example.org CNAME host.upstream.test']);
  });
});

describe('file plugin: the CoreDNS Helm chart\'s zoneFiles', () => {
  it('runs the chart-rendered Corefile with its example.db', async () => {
    setLogSink(() => undefined);
    const dir = mkdtempSync(join(tmpdir(), 'clusterdns-helm-'));
    const up = await startUpstream();
    const fixture = join(import.meta.dirname, 'fixtures', 'helm-zonefiles');
    writeFileSync(join(dir, 'example.db'), readFileSync(join(fixture, 'example.db')));
    const corefile = readFileSync(join(fixture, 'Corefile'), 'utf8')
      .replace('/etc/coredns/', `${dir}/`)
      .replace('/etc/resolv.conf', up.hostPort)
      .replace('health {', `health 127.0.0.1:${await freePort()} {`)
      .replace(/^ {4}ready$/m, `    ready 127.0.0.1:${await freePort()}`);
    expect(corefile).to.include(`file ${dir}/example.db example.com`);
    const srv = await startCorefile(corefile);
    try {
      const apex = await udpQuery(srv.port, 'example.com', 'A');
      expect(rrLines(apex.answers)).to.deep.equal(['example.com A 192.168.99.102']);
      const wild = await tcpQuery(srv.port, 'foo.example.com', 'A');
      expect(rrLines(wild.answers)).to.deep.equal(['foo.example.com A 192.168.99.102']);
      const ns = await udpQuery(srv.port, 'example.com', 'NS');
      expect(rrLines(ns.answers)).to.deep.equal(['example.com NS b.iana-servers.net', 'example.com NS a.iana-servers.net']);
      const outside = await udpQuery(srv.port, 'kubernetes.io', 'A');
      expect(rrLines(outside.answers)).to.deep.equal(['kubernetes.io A 192.0.2.53']);
    } finally {
      await srv.stop();
      await up.stop();
      setLogSink(null);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
