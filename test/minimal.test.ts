import { expect } from 'chai';
import type { Answer, DecodedPacket } from 'dns-packet';
import { createServer } from '../src/app.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { rcodeOf, tcpQuery, udpQuery } from './support/dns.js';
import { startCorefile, type Running } from './support/server.js';
import { startUpstream, type AnswerSpec, type Upstream, type UpstreamQuery } from './support/upstream.js';
import { removeDir } from './support/kubernetes-fixtures.js';
import { writeSingleService } from './support/single-service.js';

const ns = (n: string): Answer => ({ name: 'example.com', type: 'NS', ttl: 3600, data: `ns${n}.example.com` });
const glue = (n: string): Answer => ({ name: `ns${n}.example.com`, type: 'A', ttl: 3600, data: `192.0.2.${n}` });
const soa: Answer = { name: 'example.com', type: 'SOA', ttl: 60, data: { mname: 'ns1.example.com', rname: 'hostmaster.example.com', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 60 } };

// Modelled on CoreDNS's plugin/minimal/minimal_test.go: a full answer, a referral, an error, and denials.
function upstreamAnswer(q: UpstreamQuery): AnswerSpec {
  const first = q.name.split('.')[0];
  const a: Answer = { name: q.name, type: 'A', ttl: 293, data: '198.51.100.46' };
  switch (first) {
    case 'full': return { answers: [a], authorities: [ns('1'), ns('2')], additionals: [glue('1'), glue('2')] };
    case 'noauth': return { answers: [], authorities: [], additionals: [glue('1')] };
    case 'referral': return { authorities: [ns('1'), ns('2')], additionals: [glue('1'), glue('2')] };
    case 'servfail': return { rcode: 'SERVFAIL', answers: [a], authorities: [ns('1')], additionals: [glue('1')] };
    case 'nx': return { rcode: 'NXDOMAIN', authorities: [soa], additionals: [glue('1')] };
    case 'nodata': return { authorities: [soa], additionals: [glue('1')] };
    default: return { answers: [a] };
  }
}

const counts = (p: DecodedPacket): number[] =>
  [(p.answers ?? []).length, (p.authorities ?? []).length, (p.additionals ?? []).filter((r) => r.type !== 'OPT').length];

describe('minimal plugin', function () {
  this.timeout(15000);
  let up: Upstream;
  let srv: Running;
  let dir: string;
  before(async () => {
    up = await startUpstream({ answer: upstreamAnswer });
    const cluster = writeSingleService();
    dir = cluster.dir;
    srv = await startCorefile(`cluster.local {
  minimal
  kubernetes {
    manifests ${cluster.manifest}
  }
}
cache.test {
  minimal
  cache 30
  forward . ${up.hostPort}
}
. {
  minimal
  forward . ${up.hostPort}
}
`);
  });
  after(async () => { await srv.stop(); await up.stop(); removeDir(dir); });

  for (const query of [udpQuery, tcpQuery]) {
    it(`keeps only the answer section of a positive forwarded answer, over ${query.name}`, async () => {
      for (const edns of [undefined, 1232]) {
        const p = await query(srv.port, 'full.example.com', 'A', { edns });
        expect(rcodeOf(p)).to.equal('NOERROR');
        expect(counts(p), `edns ${String(edns)}`).to.deep.equal([1, 0, 0]);
        expect((p.additionals ?? []).some((r) => r.type === 'OPT')).to.equal(edns !== undefined);
      }
    });
  }

  it('strips NOERROR without answers when authority holds neither SOA nor NS', async () => {
    expect(counts(await udpQuery(srv.port, 'noauth.example.com', 'A'))).to.deep.equal([0, 0, 0]);
  });

  it('leaves referrals, errors, NXDOMAIN and NODATA whole', async () => {
    expect(counts(await udpQuery(srv.port, 'referral.example.com', 'A'))).to.deep.equal([0, 2, 2]);
    const sf = await udpQuery(srv.port, 'servfail.example.com', 'A');
    expect(rcodeOf(sf)).to.equal('SERVFAIL');
    expect(counts(sf)).to.deep.equal([1, 1, 1]);
    const nx = await tcpQuery(srv.port, 'nx.example.com', 'A');
    expect(rcodeOf(nx)).to.equal('NXDOMAIN');
    expect(counts(nx)).to.deep.equal([0, 1, 1]);
    expect(counts(await udpQuery(srv.port, 'nodata.example.com', 'A'))).to.deep.equal([0, 1, 1]);
  });

  it('minimizes answers built from sections (kubernetes SRV with additional A records), leaves its NXDOMAIN whole', async () => {
    for (const query of [udpQuery, tcpQuery]) {
      for (let i = 0; i < 2; i++) { // twice: the kubernetes answer may be a memoized (reusable) reply
        const p = await query(srv.port, '_http._tcp.web.live.svc.cluster.local', 'SRV', { edns: 1232 });
        expect(rcodeOf(p)).to.equal('NOERROR');
        expect(counts(p)).to.deep.equal([1, 0, 0]);
      }
    }
    const nx = await udpQuery(srv.port, 'nothing.live.svc.cluster.local', 'A');
    expect(rcodeOf(nx)).to.equal('NXDOMAIN');
    expect((nx.authorities ?? []).map((r) => r.type)).to.deep.equal(['SOA']);
  });

  it('the cache (before minimal) stores and serves the minimized answer', async () => {
    for (let i = 0; i < 3; i++) expect(counts(await udpQuery(srv.port, 'full.cache.test', 'A', { edns: 1232 }))).to.deep.equal([1, 0, 0]);
    expect(up.count('full.cache.test', 'A')).to.equal(1);
  });

  it('without minimal, the sections come through', async () => {
    const s = await startCorefile(`. {\n  forward . ${up.hostPort}\n}\n`);
    try {
      expect(counts(await udpQuery(s.port, 'full.example.com', 'A'))).to.deep.equal([1, 2, 2]);
    } finally {
      await s.stop();
    }
  });

  it('refuses arguments and a block with file:line', () => {
    const build = (body: string) => createServer(parseCorefile(`. {\n${body}\n}\n`, { file: 'test.Corefile' }));
    expect(() => build('minimal yes')).to.throw(/test\.Corefile:2: minimal: wrong number of arguments \(got 1\); usage: minimal/);
    expect(() => build('minimal {\n  all\n}')).to.throw(/test\.Corefile:3: minimal: unknown property "all"/);
  });
});
