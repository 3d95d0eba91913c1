import { expect } from 'chai';
import dnsPacket, { type DecodedPacket, type Packet } from 'dns-packet';
import { hostname } from 'node:os';
import { createServer } from '../src/app.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { queryBytes, rcodeOf, rrLines, tcpRaw, udpRaw } from './support/dns.js';
import { startCorefile, type Running } from './support/server.js';
import { startUpstream, type Upstream } from './support/upstream.js';
import { removeDir } from './support/kubernetes-fixtures.js';
import { writeSingleService } from './support/single-service.js';

/** A query whose OPT carries `options` (an empty NSID option asks for the NSID). */
function withOptions(name: string, type: string, options: Array<{ code: number; data: Buffer }>): Buffer {
  const p: Packet = {
    type: 'query', id: Math.floor(Math.random() * 65535), flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as 'A', class: 'IN' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options } as never],
  };
  return dnsPacket.encode(p);
}
const NSID_QUERY = [{ code: 3, data: Buffer.alloc(0) }];

async function ask(port: number, msg: Buffer, proto: 'udp' | 'tcp'): Promise<DecodedPacket> {
  const raw = proto === 'udp' ? await udpRaw(port, msg) : (await tcpRaw(port, [msg]))[0];
  if (raw === null || raw === undefined) throw new Error('no answer');
  return dnsPacket.decode(raw);
}

/** The OPT records of an answer, each as its options' "code=text". */
function opts(p: DecodedPacket): string[][] {
  return (p.additionals ?? []).filter((r) => r.type === 'OPT')
    .map((r) => ((r as { options?: Array<{ code: number; data?: Buffer }> }).options ?? []).map((o) => `${o.code}=${o.data?.toString() ?? ''}`));
}

describe('nsid plugin', function () {
  this.timeout(15000);
  let up: Upstream;
  let srv: Running;
  let dir: string;
  before(async () => {
    up = await startUpstream({ edns: { options: [{ code: 3, data: Buffer.from('upstream-id') }] } });
    const cluster = writeSingleService();
    dir = cluster.dir;
    srv = await startCorefile(`whoami.test {
  nsid Use The Force
  whoami
}
cluster.local {
  nsid k8s
  kubernetes {
    manifests ${cluster.manifest}
  }
}
fwd.test {
  nsid fwd-1
  cache 30
  forward . ${up.hostPort}
}
host.test {
  nsid
  whoami
}
`);
  });
  after(async () => { await srv.stop(); await up.stop(); removeDir(dir); });

  for (const proto of ['udp', 'tcp'] as const) {
    it(`adds NSID (code 3, DATA's bytes) to an answer built by a plugin when asked, over ${proto}`, async () => {
      const p = await ask(srv.port, withOptions('a.whoami.test', 'A', NSID_QUERY), proto);
      expect(rcodeOf(p)).to.equal('NOERROR');
      expect(opts(p)).to.deep.equal([['3=Use The Force']]);
    });

    it(`adds it to a relayed upstream answer, instead of the upstream's own, over ${proto}`, async () => {
      const p = await ask(srv.port, withOptions(`x-${proto}.fwd.test`, 'A', NSID_QUERY), proto);
      expect(rrLines(p.answers)).to.deep.equal([`x-${proto}.fwd.test A 192.0.2.53`]);
      expect(opts(p)).to.deep.equal([['3=fwd-1']]);
    });
  }

  it('adds nothing when the query has no NSID option, and no OPT without EDNS', async () => {
    expect(opts(await ask(srv.port, withOptions('a.whoami.test', 'A', []), 'udp'))).to.deep.equal([[]]);
    expect(opts(await ask(srv.port, withOptions('a.whoami.test', 'A', [{ code: 10, data: Buffer.alloc(8, 1) }]), 'udp'))).to.deep.equal([[]]);
    expect(opts(await ask(srv.port, queryBytes('a.whoami.test', 'A'), 'udp'))).to.deep.equal([]);
  });

  it('adds it to cache hits, and a cached answer does not keep it for clients that did not ask', async () => {
    for (let i = 0; i < 2; i++) {
      expect(opts(await ask(srv.port, withOptions('c.fwd.test', 'A', NSID_QUERY), 'udp')), `NSID query ${i}`).to.deep.equal([['3=fwd-1']]);
      expect(opts(await ask(srv.port, withOptions('c.fwd.test', 'A', []), 'udp')), `plain EDNS query ${i}`).to.deep.equal([[]]);
    }
    expect(up.count('c.fwd.test', 'A')).to.equal(1);
  });

  it('works on memoized (reusable) kubernetes answers without leaking into them', async () => {
    const name = '_http._tcp.web.live.svc.cluster.local';
    for (let i = 0; i < 2; i++) {
      const asked = await ask(srv.port, withOptions(name, 'SRV', NSID_QUERY), 'udp');
      expect(rcodeOf(asked)).to.equal('NOERROR');
      expect(opts(asked)).to.deep.equal([['3=k8s']]);
      expect(opts(await ask(srv.port, withOptions(name, 'SRV', []), 'udp'))).to.deep.equal([[]]);
    }
    const nx = await ask(srv.port, withOptions('nothing.live.svc.cluster.local', 'A', NSID_QUERY), 'tcp');
    expect(rcodeOf(nx)).to.equal('NXDOMAIN');
    expect(opts(nx)).to.deep.equal([['3=k8s']]);
  });

  it('defaults DATA to the host name', async () => {
    expect(opts(await ask(srv.port, withOptions('h.host.test', 'A', NSID_QUERY), 'udp'))).to.deep.equal([[`3=${hostname()}`]]);
  });

  it('refuses a block and a second nsid with file:line', () => {
    const build = (body: string) => createServer(parseCorefile(`. {\n${body}\n}\n`, { file: 'test.Corefile' }));
    expect(() => build('nsid a {\n  b\n}')).to.throw(/test\.Corefile:2: nsid takes no block/);
    expect(() => build('nsid a\nnsid b')).to.throw(/test\.Corefile:3: nsid appears more than once/);
  });
});
