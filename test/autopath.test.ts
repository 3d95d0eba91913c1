// autopath @kubernetes over real UDP and TCP: the test client (127.0.0.1)
// is a pod of namespace "demo" in the manifests cluster, so its search
// path is demo.svc.cluster.local, svc.cluster.local, cluster.local; names
// outside the cluster go to an upstream the test runs on loopback.

import { expectRefused } from './support/refuse.js';
import { expect } from 'chai';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket, { type DecodedPacket } from 'dns-packet';
import { setLogSink } from '../src/log.js';
import { queryBytes, rcodeOf, rrLines } from './support/dns.js';
import { ask, CLUSTER, expectNx, removeDir, start, writeCluster } from './support/kubernetes-fixtures.js';
import { httpGet } from './support/ops.js';
import { freePort, type Running } from './support/server.js';
import { startUpstream, type Upstream } from './support/upstream.js';

const Z = 'cluster.local';
const POD = `
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo}
status: {podIP: 127.0.0.1, podIPs: [{ip: 127.0.0.1}]}
`;

/** One query over UDP and one over TCP from another loopback address (a client that is no pod). */
async function askFrom(local: string, port: number, name: string, type: string): Promise<DecodedPacket[]> {
  const msg = queryBytes(name, type, { edns: 1232 });
  const udp = new Promise<DecodedPacket>((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => { s.close(); reject(new Error('no UDP answer')); }, 3000);
    s.on('message', (m) => { clearTimeout(t); s.close(); resolve(dnsPacket.decode(m)); });
    s.bind(0, local, () => s.send(msg, port, '127.0.0.1'));
  });
  const tcp = new Promise<DecodedPacket>((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress: local });
    const t = setTimeout(() => { s.destroy(); reject(new Error('no TCP answer')); }, 3000);
    let buf = Buffer.alloc(0);
    s.on('connect', () => { const l = Buffer.alloc(2); l.writeUInt16BE(msg.length); s.write(Buffer.concat([l, msg])); });
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) { clearTimeout(t); s.destroy(); resolve(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)))); }
    });
    s.on('error', (e) => { clearTimeout(t); reject(e); });
  });
  return Promise.all([udp, tcp]);
}

describe('autopath', function () {
  this.timeout(15000);
  before(() => setLogSink(() => {}));
  after(() => setLogSink(null));

  describe('@kubernetes', () => {
    let dir: string;
    let srv: Running;
    let up: Upstream;
    let metricsPort: number;

    before(async () => {
      dir = writeCluster({ ...CLUSTER, 'client-pod.yaml': POD });
      up = await startUpstream();
      metricsPort = await freePort();
      srv = await start(`
. {
    prometheus 127.0.0.1:${metricsPort}
    autopath @kubernetes
    kubernetes ${Z} {
        manifests ${dir}
        pods verified
        ttl 30
    }
    forward . ${up.hostPort}
}
`);
    });
    after(async () => {
      await srv?.stop();
      await up?.stop();
      removeDir(dir);
    });

    it('a cluster name found on the 2nd search element: CNAME from the asked name, then its records', async () => {
      const a = await ask(srv.port, `web.demo.demo.svc.${Z}`, 'A');
      expect(a.rcode).to.equal('NOERROR');
      expect(a.answer).to.deep.equal([
        `web.demo.demo.svc.${Z} 30 CNAME web.demo.svc.${Z}`,
        `web.demo.svc.${Z} 30 A 10.96.1.10`,
      ]);
    });

    it('an external name asked with the first search suffix is answered in one query, through the upstream', async () => {
      const before = up.count('example.org', 'A');
      const a = await ask(srv.port, `example.org.demo.svc.${Z}`, 'A');
      expect(a.rcode).to.equal('NOERROR');
      expect(a.answer).to.deep.equal([
        `example.org.demo.svc.${Z} 60 CNAME example.org`,
        'example.org 60 A 192.0.2.53',
      ]);
      // One upstream query per transport: the cluster tries never left the server.
      expect(up.count('example.org', 'A') - before).to.equal(2);
      expect(up.queries.some((q) => q.name.toLowerCase().endsWith(Z))).to.equal(false);
    });

    it('a name answered on the first element itself comes back untouched (no CNAME)', async () => {
      const a = await ask(srv.port, `web.demo.svc.${Z}`, 'A');
      expect(a.answer).to.deep.equal([`web.demo.svc.${Z} 30 A 10.96.1.10`]);
    });

    it('a NODATA on a later element ends the walk, as CoreDNS (not NXDOMAIN)', async () => {
      const a = await ask(srv.port, `web.demo.demo.svc.${Z}`, 'AAAA');
      expect(a.rcode).to.equal('NOERROR');
      expect(a.answer).to.deep.equal([]);
    });

    it('a client IP that is no pod gets the plain NXDOMAIN, nothing walked', async () => {
      const before = up.queries.length;
      for (const p of await askFrom('127.0.0.2', srv.port, `example.org.demo.svc.${Z}`, 'A')) {
        expect(rcodeOf(p)).to.equal('NXDOMAIN');
        expect(rrLines(p.answers)).to.deep.equal([]);
      }
      expect(up.queries.length).to.equal(before);
    });

    it('a name not ending in the first search element is left alone', async () => {
      expectNx(await ask(srv.port, `nx.other.svc.${Z}`, 'A'));
      const a = await ask(srv.port, `web.other.svc.${Z}`, 'A');
      expect(a.answer).to.deep.equal([`web.other.svc.${Z} 30 A 10.96.2.10`]);
      const b = await ask(srv.port, 'example.net', 'A');
      expect(b.answer).to.deep.equal(['example.net 60 A 192.0.2.53']);
    });

    it('an unknown name walks every element and the bare name, then answers the first reply (NXDOMAIN)', async () => {
      up.set({ answer: (q) => (q.name.toLowerCase() === 'nothing.example' ? { rcode: 'NXDOMAIN' } : { answers: [] }) });
      try {
        const a = await ask(srv.port, `nothing.example.demo.svc.${Z}`, 'A');
        expect(a.rcode).to.equal('NXDOMAIN');
        expect(a.authority[0]).to.match(/^cluster\.local \d+ SOA /);
        expect(up.count('nothing.example', 'A')).to.equal(2);
      } finally {
        up.set({ answer: undefined });
      }
    });

    it('counts autopathed queries in coredns_autopath_success_total', async () => {
      const count = async (): Promise<number> => {
        const body = (await httpGet(metricsPort, '/metrics')).body;
        const m = /^coredns_autopath_success_total\{server="[^"]+"\} (\d+)$/m.exec(body);
        return Number(m?.[1] ?? 0);
      };
      const before = await count();
      await ask(srv.port, `web.demo.demo.svc.${Z}`, 'A');
      expect(await count()).to.equal(before + 2);
    });
  });

  describe('resolv.conf file', () => {
    it('uses the file\'s search list for every client', async () => {
      const tmp = mkdtempSync(join(tmpdir(), 'clusterdns-autopath-'));
      const dir = writeCluster();
      writeFileSync(join(tmp, 'resolv.conf'), `nameserver 127.0.0.1\nsearch other.svc.${Z}. svc.${Z} ${Z}\noptions ndots:5\n`);
      const srv = await start(`
${Z} {
    autopath ${join(tmp, 'resolv.conf')}
    kubernetes ${Z} {
        manifests ${dir}
        ttl 30
    }
}
`);
      try {
        const a = await ask(srv.port, `web.demo.other.svc.${Z}`, 'A');
        expect(a.answer).to.deep.equal([`web.demo.other.svc.${Z} 30 CNAME web.demo.svc.${Z}`, `web.demo.svc.${Z} 30 A 10.96.1.10`]);
      } finally {
        await srv.stop();
        removeDir(dir);
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  });

  describe('configuration', () => {
    const refuse = expectRefused;

    it('refuses @kubernetes without "pods verified", naming the kubernetes block and why', () => {
      refuse(`.:53 {\n  autopath @kubernetes\n  kubernetes ${Z} {\n    pods insecure\n  }\n}\n`,
        /needs "pods verified" in the kubernetes block at Corefile:3 \(it says "pods insecure"\).*only "pods verified" watches Pods/, 2);
      refuse(`.:53 {\n  kubernetes ${Z}\n  autopath @kubernetes\n}\n`, /pods is not set/, 3);
    });

    it('refuses @kubernetes without a kubernetes plugin, other @plugins, a missing file, no argument', () => {
      refuse('.:53 {\n  autopath @kubernetes\n  forward . 127.0.0.1\n}\n', /needs a kubernetes plugin in this server block/, 2);
      refuse('.:53 {\n  autopath @erratic\n}\n', /only @kubernetes/, 2);
      refuse('.:53 {\n  autopath /nonexistent/resolv.conf\n}\n', /cannot read the resolv.conf/, 2);
      refuse('.:53 {\n  autopath\n}\n', /RESOLV-CONF/, 2);
    });
  });
});
