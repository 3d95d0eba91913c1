// Every row of shared/reference.md's tables, asked over real UDP and TCP of
// a server reading the fixture cluster from manifests.

import { expect } from 'chai';
import dnsPacket from 'dns-packet';
import { reverseName } from '../src/dns/names.js';
import { recentNameSlot } from '../src/dns/recent-names.js';
import { queryBytes, rcodeOf, udpRaw } from './support/dns.js';
import type { Running } from './support/server.js';
import { answerCase, ask, nodataCase, nxCase, removeDir, runCases, SOA_CLUSTER, start, writeCluster } from './support/kubernetes-fixtures.js';

const Z = 'cluster.local';
const SOA_V4 = 'in-addr.arpa 30 SOA ns.dns.in-addr.arpa hostmaster.in-addr.arpa SERIAL 7200 1800 86400 30';
const SOA_V6 = 'ip6.arpa 30 SOA ns.dns.ip6.arpa hostmaster.ip6.arpa SERIAL 7200 1800 86400 30';

describe('kubernetes: answers (reference.md)', function () {
  this.timeout(15000);
  let dir: string;
  let srv: Running;
  let port: number;

  before(async () => {
    dir = writeCluster();
    srv = await start(`
cluster.local in-addr.arpa ip6.arpa {
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        manifests ${dir}
        pods insecure
        ttl 30
    }
}
example.test {
    fixed
}
`);
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
    removeDir(dir);
  });

  describe('records', () => {
    it('dns-version TXT is "1.1.0" with TTL 28800; other types NODATA', async () => {
      await runCases(port, [
        answerCase(`dns-version.${Z}`, 'TXT', [`dns-version.${Z} 28800 TXT "1.1.0"`]),
        nodataCase(`dns-version.${Z}`, 'A'),
      ]);
    });

    it('ClusterIP service: A is the cluster IP (TTL = ttl); AAAA of an IPv4-only service is NODATA', async () => {
      await runCases(port, [
        answerCase(`web.demo.svc.${Z}`, 'A', [`web.demo.svc.${Z} 30 A 10.96.1.10`]),
        nodataCase(`web.demo.svc.${Z}`, 'AAAA'),
        nodataCase(`web.demo.svc.${Z}`, 'TXT'),
        nodataCase(`web.demo.svc.${Z}`, 'MX'),
      ]);
    });

    it('dual-stack service: one RR per cluster IP of the asked family', async () => {
      await runCases(port, [
        answerCase(`dual.demo.svc.${Z}`, 'A', [`dual.demo.svc.${Z} 30 A 10.96.1.20`]),
        answerCase(`dual.demo.svc.${Z}`, 'AAAA', [`dual.demo.svc.${Z} 30 AAAA fd00::1:20`]),
      ]);
    });

    it('a ClusterIP service without endpoints still answers its IP', async () => {
      await runCases(port, [
        answerCase(`lonely.demo.svc.${Z}`, 'A', [`lonely.demo.svc.${Z} 30 A 10.96.1.12`]),
      ]);
    });

    it('headless: every ready endpoint address, deduplicated across slices; not-ready ones left out', async () => {
      await runCases(port, [
        answerCase(`db.demo.svc.${Z}`, 'A', [`db.demo.svc.${Z} 30 A 10.1.1.10`, `db.demo.svc.${Z} 30 A 10.1.1.11`]),
        nodataCase(`db.demo.svc.${Z}`, 'AAAA'),
      ]);
    });

    it('headless with publishNotReadyAddresses includes not-ready addresses', async () => {
      await runCases(port, [
        answerCase(`pna.demo.svc.${Z}`, 'A', [`pna.demo.svc.${Z} 30 A 10.1.3.1`]),
      ]);
    });

    it('headless without ready endpoints is NXDOMAIN', async () => {
      await runCases(port, [
        nxCase(`nothing.demo.svc.${Z}`, 'A'),
        nxCase(`six-nope.demo.svc.${Z}`, 'A'),
      ]);
    });

    it('ExternalName: CNAME, and A/AAAA chase the target through the server', async () => {
      await runCases(port, [
        answerCase(`ext.demo.svc.${Z}`, 'A', [`ext.demo.svc.${Z} 30 CNAME www.example.test`, 'www.example.test 60 A 192.0.2.1']),
        answerCase(`ext.demo.svc.${Z}`, 'AAAA', [`ext.demo.svc.${Z} 30 CNAME www.example.test`, 'www.example.test 60 AAAA 2001:db8::1']),
        answerCase(`ext.demo.svc.${Z}`, 'CNAME', [`ext.demo.svc.${Z} 30 CNAME www.example.test`]),
        answerCase(`ext.demo.svc.${Z}`, 'TXT', [`ext.demo.svc.${Z} 30 CNAME www.example.test`]),
      ]);
      // CNAME first, then the target's records.
      const a = await ask(port, `ext.demo.svc.${Z}`, 'A');
      expect(a.answer[0]).to.match(/ CNAME /);
    });

    it('ExternalName to a cluster name is answered from the store', async () => {
      await runCases(port, [answerCase(`alias.demo.svc.${Z}`, 'A', [`alias.demo.svc.${Z} 30 CNAME web.demo.svc.${Z}`, `web.demo.svc.${Z} 30 A 10.96.1.10`])]);
      // In that order: the CNAME, then its target.
      const a = await ask(port, `alias.demo.svc.${Z}`, 'A');
      expect(a.answer).to.deep.equal([`alias.demo.svc.${Z} 30 CNAME web.demo.svc.${Z}`, `web.demo.svc.${Z} 30 A 10.96.1.10`]);
    });

    it('ExternalName whose target does not resolve: the CNAME alone; loops stop', async () => {
      await runCases(port, [
        answerCase(`gone.demo.svc.${Z}`, 'A', [`gone.demo.svc.${Z} 30 CNAME nx.example.test`]),
      ]);
      const a = await ask(port, `loop-a.demo.svc.${Z}`, 'A');
      expect(a.rcode).to.equal('NOERROR');
      // In that order: the chain as followed.
      expect(a.answer).to.deep.equal([`loop-a.demo.svc.${Z} 30 CNAME loop-b.demo.svc.${Z}`, `loop-b.demo.svc.${Z} 30 CNAME loop-a.demo.svc.${Z}`]);
    });

    it('ExternalName has no endpoints or ports below it', async () => {
      await runCases(port, [
        nxCase(`x.ext.demo.svc.${Z}`, 'A'),
        nxCase(`_http._tcp.ext.demo.svc.${Z}`, 'SRV'),
      ]);
    });

    it('endpoint labels: hostname; dashed IP otherwise (any service kind)', async () => {
      await runCases(port, [
        answerCase(`db-0.db.demo.svc.${Z}`, 'A', [`db-0.db.demo.svc.${Z} 30 A 10.1.1.10`]),
        answerCase(`10-1-0-1.web.demo.svc.${Z}`, 'A', [`10-1-0-1.web.demo.svc.${Z} 30 A 10.1.0.1`]),
        nodataCase(`db-0.db.demo.svc.${Z}`, 'AAAA'),
        nxCase(`db-2.db.demo.svc.${Z}`, 'A'), // not ready
        nxCase(`10-1-0-3.web.demo.svc.${Z}`, 'A'), // not ready
        nxCase(`web-a.web.demo.svc.${Z}`, 'A'), // pod names only with endpoint_pod_names
        nxCase(`nope.db.demo.svc.${Z}`, 'A'),
      ]);
    });

    it('IPv6 endpoint labels: ":" becomes "-", a leading or trailing "-" gets "0"', async () => {
      await runCases(port, [
        answerCase(`fd00--2-1.dual.demo.svc.${Z}`, 'AAAA', [`fd00--2-1.dual.demo.svc.${Z} 30 AAAA fd00::2:1`]),
        answerCase(`fd00--0.six.demo.svc.${Z}`, 'AAAA', [`fd00--0.six.demo.svc.${Z} 30 AAAA fd00::`]),
        answerCase(`0--5.six.demo.svc.${Z}`, 'AAAA', [`0--5.six.demo.svc.${Z} 30 AAAA ::5`]),
      ]);
    });

    it('SRV _port._proto on a ClusterIP service: target the service, its IP as glue', async () => {
      await runCases(port, [
        answerCase(`_http._tcp.web.demo.svc.${Z}`, 'SRV', [`_http._tcp.web.demo.svc.${Z} 30 SRV 0 100 80 web.demo.svc.${Z}`], [`web.demo.svc.${Z} 30 A 10.96.1.10`]),
        answerCase(`_https._tcp.web.demo.svc.${Z}`, 'SRV', [`_https._tcp.web.demo.svc.${Z} 30 SRV 0 100 443 web.demo.svc.${Z}`]),
      ]);
    });

    it('SRV _port._proto on a headless service: one per ready endpoint, weight floor(100/N), glue per target', async () => {
      await runCases(port, [answerCase(`_postgres._tcp.db.demo.svc.${Z}`, 'SRV', [
        `_postgres._tcp.db.demo.svc.${Z} 30 SRV 0 50 5432 db-0.db.demo.svc.${Z}`,
        `_postgres._tcp.db.demo.svc.${Z} 30 SRV 0 50 5432 db-1.db.demo.svc.${Z}`,
      ], [`db-0.db.demo.svc.${Z} 30 A 10.1.1.10`, `db-1.db.demo.svc.${Z} 30 A 10.1.1.11`])]);
    });

    it('SRV without _port._proto: every named port; weights share 100', async () => {
      await runCases(port, [
        answerCase(`web.demo.svc.${Z}`, 'SRV', [
          `web.demo.svc.${Z} 30 SRV 0 50 80 web.demo.svc.${Z}`,
          `web.demo.svc.${Z} 30 SRV 0 50 443 web.demo.svc.${Z}`,
        ], [`web.demo.svc.${Z} 30 A 10.96.1.10`]),
      ]);
      const db = await ask(port, `db.demo.svc.${Z}`, 'SRV');
      expect(db.answer).to.have.length(2);
      // An endpoint name: one SRV per named port of its slice, target the endpoint.
      await runCases(port, [
        answerCase(`10-1-0-2.web.demo.svc.${Z}`, 'SRV', [
          `10-1-0-2.web.demo.svc.${Z} 30 SRV 0 50 8080 10-1-0-2.web.demo.svc.${Z}`,
          `10-1-0-2.web.demo.svc.${Z} 30 SRV 0 50 8443 10-1-0-2.web.demo.svc.${Z}`,
        ], [`10-1-0-2.web.demo.svc.${Z} 30 A 10.1.0.2`]),
      ]);
    });

    it('SRV of a dual-stack service carries A and AAAA glue', async () => {
      await runCases(port, [
        answerCase(`_http._tcp.dual.demo.svc.${Z}`, 'SRV',
          [`_http._tcp.dual.demo.svc.${Z} 30 SRV 0 100 80 dual.demo.svc.${Z}`],
          [`dual.demo.svc.${Z} 30 A 10.96.1.20`, `dual.demo.svc.${Z} 30 AAAA fd00::1:20`]),
      ]);
    });

    it('unnamed ports get no SRV; unknown port or protocol is NXDOMAIN', async () => {
      await runCases(port, [
        nodataCase(`plain.demo.svc.${Z}`, 'SRV'),
        answerCase(`plain.demo.svc.${Z}`, 'A', [`plain.demo.svc.${Z} 30 A 10.96.1.11`]),
        nxCase(`_nope._tcp.web.demo.svc.${Z}`, 'SRV'),
        nxCase(`_http._udp.web.demo.svc.${Z}`, 'SRV'),
        nxCase(`http.tcp.web.demo.svc.${Z}`, 'SRV'),
      ]);
    });

    it('PTR (IPv4): a cluster IP names its service', async () => {
      await runCases(port, [
        answerCase('1.0.96.10.in-addr.arpa', 'PTR', [`1.0.96.10.in-addr.arpa 30 PTR kubernetes.default.svc.${Z}`]),
        answerCase('10.1.96.10.in-addr.arpa', 'PTR', [`10.1.96.10.in-addr.arpa 30 PTR web.demo.svc.${Z}`]),
      ]);
    });

    it('PTR (IPv4): an endpoint IP names every endpoint with that IP', async () => {
      await runCases(port, [
        answerCase('10.1.1.10.in-addr.arpa', 'PTR', [`10.1.1.10.in-addr.arpa 30 PTR db-0.db.demo.svc.${Z}`]),
        answerCase('1.0.1.10.in-addr.arpa', 'PTR', [`1.0.1.10.in-addr.arpa 30 PTR 10-1-0-1.web.demo.svc.${Z}`]),
      ]);
      await runCases(port, [
        answerCase('9.9.1.10.in-addr.arpa', 'PTR', [
          `9.9.1.10.in-addr.arpa 30 PTR x.multi-a.demo.svc.${Z}`,
          `9.9.1.10.in-addr.arpa 30 PTR 10-1-9-9.multi-b.other.svc.${Z}`,
        ]),
      ]);
    });

    it('PTR (IPv6, 32 nibbles): cluster IP and endpoint', async () => {
      const svc = reverseName('fd00::1:20')!;
      await runCases(port, [
        answerCase(svc, 'PTR', [`${svc} 30 PTR dual.demo.svc.${Z}`]),
      ]);
      const ep = reverseName('fd00::2:1')!;
      await runCases(port, [
        answerCase(ep, 'PTR', [`${ep} 30 PTR fd00--2-1.dual.demo.svc.${Z}`]),
      ]);
    });

    it('PTR negatives: unknown address NXDOMAIN, partial names NXDOMAIN, other types NODATA', async () => {
      await runCases(port, [
        nxCase('9.9.9.10.in-addr.arpa', 'PTR', SOA_V4),
        // Same /24 as db's endpoints (the reverse index's key for IPv4) but no endpoint has it.
        nxCase('99.1.1.10.in-addr.arpa', 'PTR', SOA_V4),
        nxCase('10.in-addr.arpa', 'PTR', SOA_V4),
        nxCase(reverseName('fd00::9')!, 'PTR', SOA_V6),
        nodataCase('1.0.96.10.in-addr.arpa', 'A', SOA_V4),
        nxCase('1.1.0.96.10.in-addr.arpa', 'PTR', SOA_V4),
      ]);
    });

    it('pods insecure: the IP in the name, in an existing namespace', async () => {
      await runCases(port, [
        answerCase(`10-1-2-3.demo.pod.${Z}`, 'A', [`10-1-2-3.demo.pod.${Z} 30 A 10.1.2.3`]),
        nodataCase(`10-1-2-3.demo.pod.${Z}`, 'AAAA'),
        answerCase(`fd00--9.demo.pod.${Z}`, 'AAAA', [`fd00--9.demo.pod.${Z} 30 AAAA fd00::9`]),
        nxCase(`10-1-2-3.nope.pod.${Z}`, 'A'),
        nxCase(`not-an-ip.demo.pod.${Z}`, 'A'),
        nxCase(`10-1-2-300.demo.pod.${Z}`, 'A'),
        nxCase(`x.10-1-2-3.demo.pod.${Z}`, 'A'),
        nodataCase(`demo.pod.${Z}`, 'A'),
      ]);
    });

    it('apex SOA and NS; ns.dns.<zone> has the server\'s own address', async () => {
      await runCases(port, [answerCase(Z, 'SOA', [SOA_CLUSTER(30)])]);
      const soa = await ask(port, Z, 'SOA');
      const serial = (soa.raw.answers![0] as { data: { serial: number } }).data.serial;
      expect(serial).to.be.within(Math.floor(Date.now() / 1000) - 60, Math.floor(Date.now() / 1000) + 1);
      await runCases(port, [
        answerCase(Z, 'NS', [`${Z} 30 NS ns.dns.${Z}`], [`ns.dns.${Z} 30 A 127.0.0.1`]),
        answerCase(`ns.dns.${Z}`, 'A', [`ns.dns.${Z} 30 A 127.0.0.1`]),
        nodataCase(`ns.dns.${Z}`, 'AAAA'),
        nodataCase(`dns.${Z}`, 'A'),
        nodataCase(Z, 'A'),
        answerCase('in-addr.arpa', 'SOA', [SOA_V4]),
      ]);
    });
  });

  describe('rcodes', () => {
    it('NODATA for <zone>, svc.<zone>, pod.<zone> and an existing namespace', async () => {
      await runCases(port, [
        ...[Z, `svc.${Z}`, `pod.${Z}`, `demo.svc.${Z}`, `empty-ns.svc.${Z}`, `implied.svc.${Z}`].map((n) => nodataCase(n, 'A')),
        nodataCase(`svc.${Z}`, 'AAAA'),
      ]);
    });

    it('NXDOMAIN: unknown namespace, service, label; bad second label; too many labels', async () => {
      for (const n of [
        `nope.svc.${Z}`, `nope.demo.svc.${Z}`, `web.nope.svc.${Z}`, `nope.web.demo.svc.${Z}`, `x.${Z}`, `web.demo.x.${Z}`,
        `a.b.c.web.demo.svc.${Z}`, `_a._b.c.web.demo.svc.${Z}`, `x.y.demo.pod.${Z}`,
      ]) {
        await runCases(port, [nxCase(n, 'A')]);
      }
    });

    it('search-path names are NXDOMAIN, never NODATA', async () => {
      for (const n of [
        `kubernetes.default.svc.demo.svc.${Z}`, `kubernetes.default.svc.default.svc.${Z}`,
        `web.demo.demo.svc.${Z}`, `web.demo.svc.${Z}.${Z}`, `x.${Z}.${Z}`, `www.example.com.demo.svc.${Z}`,
        `www.example.com.svc.${Z}`, `www.example.com.${Z}`, `kubernetes.svc.${Z}`,
      ]) {
        await runCases(port, [nxCase(n, 'A'), nxCase(n, 'AAAA')]);
      }
    });

    it('labels may start with a digit', async () => {
      await runCases(port, [
        answerCase(`1kubernetes.default.svc.${Z}`, 'A', [`1kubernetes.default.svc.${Z} 30 A 10.96.0.2`]),
      ]);
    });

    it('wildcards are not served', async () => {
      await runCases(port, [
        nxCase(`*.demo.svc.${Z}`, 'A'),
        nxCase(`web.*.svc.${Z}`, 'A'),
        nxCase(`_http._tcp.*.demo.svc.${Z}`, 'SRV'),
      ]);
    });

    it('a namespace implied by its objects exists; other kinds in manifests are ignored', async () => {
      await runCases(port, [
        answerCase(`svc.implied.svc.${Z}`, 'A', [`svc.implied.svc.${Z} 30 A 10.96.3.1`]),
        nxCase(`ignored.implied.svc.${Z}`, 'A'),
      ]);
    });

    it('the question is echoed as asked; matching ignores case', async () => {
      const raw = await udpRaw(port, queryBytes(`WeB.DeMo.SvC.Cluster.LOCAL`, 'A'));
      const p = dnsPacket.decode(raw!);
      expect(p.questions![0]!.name).to.equal('WeB.DeMo.SvC.Cluster.LOCAL');
      expect(p.answers![0]!.name).to.equal('WeB.DeMo.SvC.Cluster.LOCAL');
      expect((p.answers![0] as { data: string }).data).to.equal('10.96.1.10');
      const nx = dnsPacket.decode((await udpRaw(port, queryBytes(`NoPe.DeMo.SvC.Cluster.LOCAL`, 'A')))!);
      expect(nx.questions![0]!.name).to.equal('NoPe.DeMo.SvC.Cluster.LOCAL');
      expect(rcodeOf(nx)).to.equal('NXDOMAIN');
    });

    it('names sharing a slot of the parser\'s recent-names table each get their own answer', async () => {
      // A name of the same length in the same slot as web.demo...: only a byte-by-byte check tells them apart.
      const web = `web.demo.svc.${Z}`;
      const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
      let twin = '';
      for (let i = 0; i < chars.length ** 3 && twin === ''; i++) {
        const label = [i % 36, Math.floor(i / 36) % 36, Math.floor(i / 1296)].map((k) => chars[k]).join('');
        const name = `${label}.demo.svc.${Z}`;
        if (label !== 'web' && recentNameSlot(name) === recentNameSlot(web)) twin = name;
      }
      expect(twin, 'a name in the same slot').to.not.equal('');
      for (let i = 0; i < 3; i++) {
        expect(rcodeOf(dnsPacket.decode((await udpRaw(port, queryBytes(twin, 'A')))!))).to.equal('NXDOMAIN');
        const p = dnsPacket.decode((await udpRaw(port, queryBytes(web, 'A')))!);
        expect((p.answers![0] as { data: string }).data).to.equal('10.96.1.10');
      }
    });

    it('names outside the plugin zones are not ours', async () => {
      const a = await ask(port, 'www.example.test', 'A');
      expect(a.answer).to.deep.equal(['www.example.test 60 A 192.0.2.1']);
    });
  });
});
