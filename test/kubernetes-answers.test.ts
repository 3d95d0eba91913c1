// Every row of shared/reference.md's tables, asked over real UDP and TCP of
// a server reading the fixture cluster from manifests.

import { expect } from 'chai';
import dnsPacket from 'dns-packet';
import { reverseName } from '../src/dns/names.js';
import { queryBytes, rcodeOf, udpRaw } from './support/dns.js';
import type { Running } from './support/server.js';
import { ask, expectAnswer, expectNodata, expectNx, removeDir, SOA_CLUSTER, start, writeCluster } from './support/kubernetes-fixtures.js';

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
      const a = await ask(port, `dns-version.${Z}`, 'TXT');
      expectAnswer(a, [`dns-version.${Z} 28800 TXT "1.1.0"`]);
      expectNodata(await ask(port, `dns-version.${Z}`, 'A'));
    });

    it('ClusterIP service: A is the cluster IP (TTL = ttl); AAAA of an IPv4-only service is NODATA', async () => {
      expectAnswer(await ask(port, `web.demo.svc.${Z}`, 'A'), [`web.demo.svc.${Z} 30 A 10.96.1.10`]);
      expectNodata(await ask(port, `web.demo.svc.${Z}`, 'AAAA'));
      expectNodata(await ask(port, `web.demo.svc.${Z}`, 'TXT'));
      expectNodata(await ask(port, `web.demo.svc.${Z}`, 'MX'));
    });

    it('dual-stack service: one RR per cluster IP of the asked family', async () => {
      expectAnswer(await ask(port, `dual.demo.svc.${Z}`, 'A'), [`dual.demo.svc.${Z} 30 A 10.96.1.20`]);
      expectAnswer(await ask(port, `dual.demo.svc.${Z}`, 'AAAA'), [`dual.demo.svc.${Z} 30 AAAA fd00::1:20`]);
    });

    it('a ClusterIP service without endpoints still answers its IP', async () => {
      expectAnswer(await ask(port, `lonely.demo.svc.${Z}`, 'A'), [`lonely.demo.svc.${Z} 30 A 10.96.1.12`]);
    });

    it('headless: every ready endpoint address, deduplicated across slices; not-ready ones left out', async () => {
      expectAnswer(await ask(port, `db.demo.svc.${Z}`, 'A'), [`db.demo.svc.${Z} 30 A 10.1.1.10`, `db.demo.svc.${Z} 30 A 10.1.1.11`]);
      expectNodata(await ask(port, `db.demo.svc.${Z}`, 'AAAA'));
    });

    it('headless with publishNotReadyAddresses includes not-ready addresses', async () => {
      expectAnswer(await ask(port, `pna.demo.svc.${Z}`, 'A'), [`pna.demo.svc.${Z} 30 A 10.1.3.1`]);
    });

    it('headless without ready endpoints is NXDOMAIN', async () => {
      expectNx(await ask(port, `nothing.demo.svc.${Z}`, 'A'));
      expectNx(await ask(port, `six-nope.demo.svc.${Z}`, 'A'));
    });

    it('ExternalName: CNAME, and A/AAAA chase the target through the server', async () => {
      expectAnswer(await ask(port, `ext.demo.svc.${Z}`, 'A'), [`ext.demo.svc.${Z} 30 CNAME www.example.test`, 'www.example.test 60 A 192.0.2.1']);
      expectAnswer(await ask(port, `ext.demo.svc.${Z}`, 'AAAA'), [`ext.demo.svc.${Z} 30 CNAME www.example.test`, 'www.example.test 60 AAAA 2001:db8::1']);
      expectAnswer(await ask(port, `ext.demo.svc.${Z}`, 'CNAME'), [`ext.demo.svc.${Z} 30 CNAME www.example.test`]);
      expectAnswer(await ask(port, `ext.demo.svc.${Z}`, 'TXT'), [`ext.demo.svc.${Z} 30 CNAME www.example.test`]);
      // CNAME first, then the target's records.
      const a = await ask(port, `ext.demo.svc.${Z}`, 'A');
      expect(a.answer[0]).to.match(/ CNAME /);
    });

    it('ExternalName to a cluster name is answered from the store', async () => {
      const a = await ask(port, `alias.demo.svc.${Z}`, 'A');
      expect(a.answer).to.deep.equal([`alias.demo.svc.${Z} 30 CNAME web.demo.svc.${Z}`, `web.demo.svc.${Z} 30 A 10.96.1.10`]);
    });

    it('ExternalName whose target does not resolve: the CNAME alone; loops stop', async () => {
      expectAnswer(await ask(port, `gone.demo.svc.${Z}`, 'A'), [`gone.demo.svc.${Z} 30 CNAME nx.example.test`]);
      const a = await ask(port, `loop-a.demo.svc.${Z}`, 'A');
      expect(a.rcode).to.equal('NOERROR');
      expect(a.answer).to.deep.equal([`loop-a.demo.svc.${Z} 30 CNAME loop-b.demo.svc.${Z}`, `loop-b.demo.svc.${Z} 30 CNAME loop-a.demo.svc.${Z}`]);
    });

    it('ExternalName has no endpoints or ports below it', async () => {
      expectNx(await ask(port, `x.ext.demo.svc.${Z}`, 'A'));
      expectNx(await ask(port, `_http._tcp.ext.demo.svc.${Z}`, 'SRV'));
    });

    it('endpoint labels: hostname; dashed IP otherwise (any service kind)', async () => {
      expectAnswer(await ask(port, `db-0.db.demo.svc.${Z}`, 'A'), [`db-0.db.demo.svc.${Z} 30 A 10.1.1.10`]);
      expectAnswer(await ask(port, `10-1-0-1.web.demo.svc.${Z}`, 'A'), [`10-1-0-1.web.demo.svc.${Z} 30 A 10.1.0.1`]);
      expectNodata(await ask(port, `db-0.db.demo.svc.${Z}`, 'AAAA'));
      expectNx(await ask(port, `db-2.db.demo.svc.${Z}`, 'A')); // not ready
      expectNx(await ask(port, `10-1-0-3.web.demo.svc.${Z}`, 'A')); // not ready
      expectNx(await ask(port, `web-a.web.demo.svc.${Z}`, 'A')); // pod names only with endpoint_pod_names
      expectNx(await ask(port, `nope.db.demo.svc.${Z}`, 'A'));
    });

    it('IPv6 endpoint labels: ":" becomes "-", a leading or trailing "-" gets "0"', async () => {
      expectAnswer(await ask(port, `fd00--2-1.dual.demo.svc.${Z}`, 'AAAA'), [`fd00--2-1.dual.demo.svc.${Z} 30 AAAA fd00::2:1`]);
      expectAnswer(await ask(port, `fd00--0.six.demo.svc.${Z}`, 'AAAA'), [`fd00--0.six.demo.svc.${Z} 30 AAAA fd00::`]);
      expectAnswer(await ask(port, `0--5.six.demo.svc.${Z}`, 'AAAA'), [`0--5.six.demo.svc.${Z} 30 AAAA ::5`]);
    });

    it('SRV _port._proto on a ClusterIP service: target the service, its IP as glue', async () => {
      const a = await ask(port, `_http._tcp.web.demo.svc.${Z}`, 'SRV');
      expectAnswer(a, [`_http._tcp.web.demo.svc.${Z} 30 SRV 0 100 80 web.demo.svc.${Z}`], [`web.demo.svc.${Z} 30 A 10.96.1.10`]);
      expectAnswer(await ask(port, `_https._tcp.web.demo.svc.${Z}`, 'SRV'), [`_https._tcp.web.demo.svc.${Z} 30 SRV 0 100 443 web.demo.svc.${Z}`]);
    });

    it('SRV _port._proto on a headless service: one per ready endpoint, weight floor(100/N), glue per target', async () => {
      const a = await ask(port, `_postgres._tcp.db.demo.svc.${Z}`, 'SRV');
      expectAnswer(a, [
        `_postgres._tcp.db.demo.svc.${Z} 30 SRV 0 50 5432 db-0.db.demo.svc.${Z}`,
        `_postgres._tcp.db.demo.svc.${Z} 30 SRV 0 50 5432 db-1.db.demo.svc.${Z}`,
      ], [`db-0.db.demo.svc.${Z} 30 A 10.1.1.10`, `db-1.db.demo.svc.${Z} 30 A 10.1.1.11`]);
    });

    it('SRV without _port._proto: every named port; weights share 100', async () => {
      expectAnswer(await ask(port, `web.demo.svc.${Z}`, 'SRV'), [
        `web.demo.svc.${Z} 30 SRV 0 50 80 web.demo.svc.${Z}`,
        `web.demo.svc.${Z} 30 SRV 0 50 443 web.demo.svc.${Z}`,
      ], [`web.demo.svc.${Z} 30 A 10.96.1.10`]);
      // An endpoint name: one SRV per named port of its slice, target the endpoint.
      const db = await ask(port, `db.demo.svc.${Z}`, 'SRV');
      expect(db.answer).to.have.length(2);
      const w = await ask(port, `10-1-0-2.web.demo.svc.${Z}`, 'SRV');
      expectAnswer(w, [
        `10-1-0-2.web.demo.svc.${Z} 30 SRV 0 50 8080 10-1-0-2.web.demo.svc.${Z}`,
        `10-1-0-2.web.demo.svc.${Z} 30 SRV 0 50 8443 10-1-0-2.web.demo.svc.${Z}`,
      ], [`10-1-0-2.web.demo.svc.${Z} 30 A 10.1.0.2`]);
    });

    it('SRV of a dual-stack service carries A and AAAA glue', async () => {
      expectAnswer(await ask(port, `_http._tcp.dual.demo.svc.${Z}`, 'SRV'),
        [`_http._tcp.dual.demo.svc.${Z} 30 SRV 0 100 80 dual.demo.svc.${Z}`],
        [`dual.demo.svc.${Z} 30 A 10.96.1.20`, `dual.demo.svc.${Z} 30 AAAA fd00::1:20`]);
    });

    it('unnamed ports get no SRV; unknown port or protocol is NXDOMAIN', async () => {
      expectNodata(await ask(port, `plain.demo.svc.${Z}`, 'SRV'));
      expectAnswer(await ask(port, `plain.demo.svc.${Z}`, 'A'), [`plain.demo.svc.${Z} 30 A 10.96.1.11`]);
      expectNx(await ask(port, `_nope._tcp.web.demo.svc.${Z}`, 'SRV'));
      expectNx(await ask(port, `_http._udp.web.demo.svc.${Z}`, 'SRV'));
      expectNx(await ask(port, `http.tcp.web.demo.svc.${Z}`, 'SRV'));
    });

    it('PTR (IPv4): a cluster IP names its service', async () => {
      expectAnswer(await ask(port, '1.0.96.10.in-addr.arpa', 'PTR'), [`1.0.96.10.in-addr.arpa 30 PTR kubernetes.default.svc.${Z}`]);
      expectAnswer(await ask(port, '10.1.96.10.in-addr.arpa', 'PTR'), [`10.1.96.10.in-addr.arpa 30 PTR web.demo.svc.${Z}`]);
    });

    it('PTR (IPv4): an endpoint IP names every endpoint with that IP', async () => {
      expectAnswer(await ask(port, '10.1.1.10.in-addr.arpa', 'PTR'), [`10.1.1.10.in-addr.arpa 30 PTR db-0.db.demo.svc.${Z}`]);
      expectAnswer(await ask(port, '1.0.1.10.in-addr.arpa', 'PTR'), [`1.0.1.10.in-addr.arpa 30 PTR 10-1-0-1.web.demo.svc.${Z}`]);
      expectAnswer(await ask(port, '9.9.1.10.in-addr.arpa', 'PTR'), [
        `9.9.1.10.in-addr.arpa 30 PTR x.multi-a.demo.svc.${Z}`,
        `9.9.1.10.in-addr.arpa 30 PTR 10-1-9-9.multi-b.other.svc.${Z}`,
      ]);
    });

    it('PTR (IPv6, 32 nibbles): cluster IP and endpoint', async () => {
      const svc = reverseName('fd00::1:20')!;
      expectAnswer(await ask(port, svc, 'PTR'), [`${svc} 30 PTR dual.demo.svc.${Z}`]);
      const ep = reverseName('fd00::2:1')!;
      expectAnswer(await ask(port, ep, 'PTR'), [`${ep} 30 PTR fd00--2-1.dual.demo.svc.${Z}`]);
    });

    it('PTR negatives: unknown address NXDOMAIN, partial names NXDOMAIN, other types NODATA', async () => {
      expectNx(await ask(port, '9.9.9.10.in-addr.arpa', 'PTR'), SOA_V4);
      expectNx(await ask(port, '10.in-addr.arpa', 'PTR'), SOA_V4);
      expectNx(await ask(port, reverseName('fd00::9')!, 'PTR'), SOA_V6);
      expectNodata(await ask(port, '1.0.96.10.in-addr.arpa', 'A'), SOA_V4);
      expectNx(await ask(port, '1.1.0.96.10.in-addr.arpa', 'PTR'), SOA_V4);
    });

    it('pods insecure: the IP in the name, in an existing namespace', async () => {
      expectAnswer(await ask(port, `10-1-2-3.demo.pod.${Z}`, 'A'), [`10-1-2-3.demo.pod.${Z} 30 A 10.1.2.3`]);
      expectNodata(await ask(port, `10-1-2-3.demo.pod.${Z}`, 'AAAA'));
      expectAnswer(await ask(port, `fd00--9.demo.pod.${Z}`, 'AAAA'), [`fd00--9.demo.pod.${Z} 30 AAAA fd00::9`]);
      expectNx(await ask(port, `10-1-2-3.nope.pod.${Z}`, 'A'));
      expectNx(await ask(port, `not-an-ip.demo.pod.${Z}`, 'A'));
      expectNx(await ask(port, `10-1-2-300.demo.pod.${Z}`, 'A'));
      expectNx(await ask(port, `x.10-1-2-3.demo.pod.${Z}`, 'A'));
      expectNodata(await ask(port, `demo.pod.${Z}`, 'A'));
    });

    it('apex SOA and NS; ns.dns.<zone> has the server\'s own address', async () => {
      const soa = await ask(port, Z, 'SOA');
      expectAnswer(soa, [SOA_CLUSTER(30)]);
      const serial = (soa.raw.answers![0] as { data: { serial: number } }).data.serial;
      expect(serial).to.be.within(Math.floor(Date.now() / 1000) - 60, Math.floor(Date.now() / 1000) + 1);
      expectAnswer(await ask(port, Z, 'NS'), [`${Z} 30 NS ns.dns.${Z}`], [`ns.dns.${Z} 30 A 127.0.0.1`]);
      expectAnswer(await ask(port, `ns.dns.${Z}`, 'A'), [`ns.dns.${Z} 30 A 127.0.0.1`]);
      expectNodata(await ask(port, `ns.dns.${Z}`, 'AAAA'));
      expectNodata(await ask(port, `dns.${Z}`, 'A'));
      expectNodata(await ask(port, Z, 'A'));
      expectAnswer(await ask(port, 'in-addr.arpa', 'SOA'), [SOA_V4]);
    });
  });

  describe('rcodes', () => {
    it('NODATA for <zone>, svc.<zone>, pod.<zone> and an existing namespace', async () => {
      for (const n of [Z, `svc.${Z}`, `pod.${Z}`, `demo.svc.${Z}`, `empty-ns.svc.${Z}`, `implied.svc.${Z}`]) {
        expectNodata(await ask(port, n, 'A'));
      }
      expectNodata(await ask(port, `svc.${Z}`, 'AAAA'));
    });

    it('NXDOMAIN: unknown namespace, service, label; bad second label; too many labels', async () => {
      for (const n of [
        `nope.svc.${Z}`, `nope.demo.svc.${Z}`, `web.nope.svc.${Z}`, `nope.web.demo.svc.${Z}`, `x.${Z}`, `web.demo.x.${Z}`,
        `a.b.c.web.demo.svc.${Z}`, `_a._b.c.web.demo.svc.${Z}`, `x.y.demo.pod.${Z}`,
      ]) {
        expectNx(await ask(port, n, 'A'));
      }
    });

    it('search-path names are NXDOMAIN, never NODATA', async () => {
      for (const n of [
        `kubernetes.default.svc.demo.svc.${Z}`, `kubernetes.default.svc.default.svc.${Z}`,
        `web.demo.demo.svc.${Z}`, `web.demo.svc.${Z}.${Z}`, `x.${Z}.${Z}`, `www.example.com.demo.svc.${Z}`,
        `www.example.com.svc.${Z}`, `www.example.com.${Z}`, `kubernetes.svc.${Z}`,
      ]) {
        for (const t of ['A', 'AAAA']) expectNx(await ask(port, n, t));
      }
    });

    it('labels may start with a digit', async () => {
      expectAnswer(await ask(port, `1kubernetes.default.svc.${Z}`, 'A'), [`1kubernetes.default.svc.${Z} 30 A 10.96.0.2`]);
    });

    it('wildcards are not served', async () => {
      expectNx(await ask(port, `*.demo.svc.${Z}`, 'A'));
      expectNx(await ask(port, `web.*.svc.${Z}`, 'A'));
      expectNx(await ask(port, `_http._tcp.*.demo.svc.${Z}`, 'SRV'));
    });

    it('a namespace implied by its objects exists; other kinds in manifests are ignored', async () => {
      expectAnswer(await ask(port, `svc.implied.svc.${Z}`, 'A'), [`svc.implied.svc.${Z} 30 A 10.96.3.1`]);
      expectNx(await ask(port, `ignored.implied.svc.${Z}`, 'A'));
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

    it('names outside the plugin zones are not ours', async () => {
      const a = await ask(port, 'www.example.test', 'A');
      expect(a.answer).to.deep.equal(['www.example.test 60 A 192.0.2.1']);
    });
  });
});
