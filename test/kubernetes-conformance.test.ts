// Conformance and robustness of the kubernetes answers (issue 9): SRV glue
// for targets shared by several addresses, ANY, non-IN classes, and object
// data that must never reach the wire as it is. Asked over real UDP and TCP
// of a server reading its cluster from manifests.

import { expect } from 'chai';
import { ask, expectAnswer, expectNodata, expectNx, headlessYaml, removeDir, start, writeCluster } from './support/kubernetes-fixtures.js';
import dnsPacket from 'dns-packet';
import dgram from 'node:dgram';
import { QTYPE } from '../src/dns/constants.js';
import type { Computed } from '../src/plugins/kubernetes/answer.js';
import { queryBytes, rcodeOf, rrLines, tcpQuery, udpQuery, udpRaw } from './support/dns.js';
import { setLogSink } from '../src/log.js';
import { httpGet } from './support/ops.js';
import { freePort, type Running } from './support/server.js';
import { startUpstream, type Upstream } from './support/upstream.js';

const Z = 'cluster.local';

const NAMESPACE = `
apiVersion: v1
kind: Namespace
metadata: {name: demo}
`;

/** A ClusterIP service and an ExternalName. */
const PLAIN = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  clusterIP: 10.96.1.10
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: demo}
spec: {type: ExternalName, externalName: www.example.test}
`;

/** Headless services whose SRV targets are shared by several addresses. */
const SHARED_TARGETS = `
apiVersion: v1
kind: Service
metadata: {name: stateful, namespace: demo}
spec:
  clusterIP: None
  ipFamilies: [IPv4, IPv6]
  ports: [{name: peer, port: 7000, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: stateful-v4, namespace: demo, labels: {kubernetes.io/service-name: stateful}}
addressType: IPv4
endpoints:
  - {addresses: [10.1.5.10], hostname: st-0}
  - {addresses: [10.1.5.11], hostname: st-1}
ports: [{name: peer, port: 7000, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: stateful-v6, namespace: demo, labels: {kubernetes.io/service-name: stateful}}
addressType: IPv6
endpoints:
  - {addresses: ["fd00::5:10"], hostname: st-0}
  - {addresses: ["fd00::5:11"], hostname: st-1}
ports: [{name: peer, port: 7000, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: twins, namespace: demo}
spec:
  clusterIP: None
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: twins-1, namespace: demo, labels: {kubernetes.io/service-name: twins}}
addressType: IPv4
endpoints:
  - {addresses: [10.1.6.1], hostname: same}
  - {addresses: [10.1.6.2], hostname: same}
  - {addresses: [10.1.6.3], hostname: other}
ports: [{name: http, port: 80, protocol: TCP}]
`;

/** A headless service whose A answer (100 records) is larger than 1232 bytes. */
const MANY = headlessYaml('demo', 'many', Array.from({ length: 100 }, (_, i) => `10.2.0.${i + 1}`));

/** 323 characters: five 63-character labels and "com". */
const LONG_EXTERNAL = `${Array.from({ length: 5 }, () => 'x'.repeat(63)).join('.')}.com`;
const LONG_HOST = 'h'.repeat(70);

/** Object data the API would refuse but manifests (or a broken API) can carry. */
const INVALID = `
apiVersion: v1
kind: Service
metadata: {name: longext, namespace: demo}
spec: {type: ExternalName, externalName: ${LONG_EXTERNAL}}
---
apiVersion: v1
kind: Service
metadata: {name: bigport, namespace: demo}
spec:
  clusterIP: 10.96.7.1
  ports: [{name: big, port: 70000, protocol: TCP}, {name: http, port: 80, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: longhost, namespace: demo}
spec: {clusterIP: None, ports: [{name: http, port: 80, protocol: TCP}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: longhost-1, namespace: demo, labels: {kubernetes.io/service-name: longhost}}
addressType: IPv4
endpoints:
  - {addresses: [10.1.7.1], hostname: ${LONG_HOST}}
  - {addresses: [10.1.7.2], hostname: ok-0}
ports: [{name: http, port: 80, protocol: TCP}, {name: huge, port: 99999, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: ${'n'.repeat(64)}, namespace: demo}
spec: {clusterIP: 10.96.7.2, ports: [{name: http, port: 80, protocol: TCP}]}
`;

/**
 * Sends `names` as A queries over one UDP socket, at most `window` in
 * flight, and resolves with how many were answered. A window that goes
 * unanswered for 2 s is given up (loopback may drop under load).
 */
function udpFlood(port: number, names: string[], window = 256): Promise<number> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    let next = 0;
    let inFlight = 0;
    let answered = 0;
    let idle: NodeJS.Timeout | undefined;
    const finish = (): void => { clearTimeout(idle); sock.close(); resolve(answered); };
    const pump = (): void => {
      clearTimeout(idle);
      while (inFlight < window && next < names.length) {
        sock.send(queryBytes(names[next]!, 'A', { id: next & 0xffff }), port, '127.0.0.1');
        next++;
        inFlight++;
      }
      if (inFlight === 0) { finish(); return; }
      idle = setTimeout(() => { inFlight = 0; if (next >= names.length) finish(); else pump(); }, 2000);
    };
    sock.on('message', () => { answered++; inFlight = Math.max(0, inFlight - 1); pump(); });
    pump();
  });
}

describe('kubernetes: conformance', function () {
  this.timeout(60_000);
  let dir: string;
  let srv: Running;
  let port: number;
  let upstream: Upstream;
  let metricsPort: number;
  const logs: string[] = [];

  before(async () => {
    setLogSink((l) => logs.push(l));
    metricsPort = await freePort();
    upstream = await startUpstream({
      answer: (q) => (q.type === 'ANY' ? { answers: [{ name: q.name, type: 'TXT', ttl: 60, data: ['from upstream'] }] } : {}),
    });
    dir = writeCluster({ 'ns.yaml': NAMESPACE, 'plain.yaml': PLAIN, 'shared.yaml': SHARED_TARGETS, 'many.yaml': MANY, 'invalid.yaml': INVALID });
    srv = await start(`
cluster.local in-addr.arpa {
    kubernetes cluster.local in-addr.arpa {
        manifests ${dir}
        ttl 30
        # client-node takes seconds to import on a loaded machine
        startup_timeout 60s
    }
    prometheus 127.0.0.1:${metricsPort}
}
. {
    forward . ${upstream.hostPort}
}
`);
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
    await upstream?.stop();
    setLogSink(null);
    removeDir(dir);
  });

  describe('SRV glue of shared targets (spec 2.4.2)', () => {
    it('dual-stack headless: one SRV per hostname, its A and AAAA both in Additional', async () => {
      const st = `stateful.demo.svc.${Z}`;
      // Weight: CoreDNS counts every (address, port) pair, before deduplicating the SRV records: 100/4.
      expectAnswer(await ask(port, `_peer._tcp.${st}`, 'SRV'), [
        `_peer._tcp.${st} 30 SRV 0 25 7000 st-0.${st}`,
        `_peer._tcp.${st} 30 SRV 0 25 7000 st-1.${st}`,
      ], [
        `st-0.${st} 30 A 10.1.5.10`, `st-0.${st} 30 AAAA fd00::5:10`,
        `st-1.${st} 30 A 10.1.5.11`, `st-1.${st} 30 AAAA fd00::5:11`,
      ]);
      // The same through the bare service name and through one endpoint's name.
      expect((await ask(port, st, 'SRV')).additional).to.have.length(4);
      expectAnswer(await ask(port, `st-0.${st}`, 'SRV'), [`st-0.${st} 30 SRV 0 50 7000 st-0.${st}`],
        [`st-0.${st} 30 A 10.1.5.10`, `st-0.${st} 30 AAAA fd00::5:10`]);
    });

    it('a hostname shared by two endpoints: one SRV, glue for both addresses', async () => {
      const tw = `twins.demo.svc.${Z}`;
      expectAnswer(await ask(port, `_http._tcp.${tw}`, 'SRV'), [
        `_http._tcp.${tw} 30 SRV 0 33 80 same.${tw}`,
        `_http._tcp.${tw} 30 SRV 0 33 80 other.${tw}`,
      ], [`same.${tw} 30 A 10.1.6.1`, `same.${tw} 30 A 10.1.6.2`, `other.${tw} 30 A 10.1.6.3`]);
      expectAnswer(await ask(port, `same.${tw}`, 'A'), [`same.${tw} 30 A 10.1.6.1`, `same.${tw} 30 A 10.1.6.2`]);
    });
  });

  describe('ANY (no any plugin in the Corefile)', () => {
    it('an existing cluster name is NODATA, as CoreDNS answers it; ExternalName too', async () => {
      expectNodata(await ask(port, `web.demo.svc.${Z}`, 'ANY'));
      expectNodata(await ask(port, `ext.demo.svc.${Z}`, 'ANY'));
      expectNodata(await ask(port, Z, 'ANY'));
    });

    it('a cluster name that does not exist is NXDOMAIN with the SOA, never an RFC 8482 HINFO', async () => {
      expectNx(await ask(port, `nope.demo.svc.${Z}`, 'ANY'));
      expectNx(await ask(port, `web.nope.svc.${Z}`, 'ANY'));
    });

    it('other names are forwarded as ANY and the upstream\'s answer relayed', async () => {
      for (const query of [udpQuery, tcpQuery]) {
        const a = await query(port, 'www.example.org', 'ANY');
        expect(rcodeOf(a)).to.equal('NOERROR');
        expect(rrLines(a.answers)).to.deep.equal(['www.example.org TXT from upstream']);
      }
      expect(upstream.count('www.example.org', 'ANY')).to.be.at.least(1);
    });
  });

  describe('classes other than IN', () => {
    it('CH (and HS, ANY) questions for cluster names are REFUSED, never answered with IN data', async () => {
      for (const query of [udpQuery, tcpQuery]) {
        for (const qclass of ['CH', 'HS', 'ANY'] as const) {
          const a = await query(port, `web.demo.svc.${Z}`, 'A', { qclass });
          expect(rcodeOf(a), `${qclass} over ${query.name}`).to.equal('REFUSED');
          expect(a.answers ?? []).to.have.length(0);
          expect(a.flag_aa).to.equal(false);
        }
        // Forwarded names too: nothing goes upstream.
        expect(rcodeOf(await query(port, 'www.example.org', 'A', { qclass: 'CH' }))).to.equal('REFUSED');
      }
      expect(upstream.queries.filter((q) => q.qclass !== 'IN')).to.deep.equal([]);
      expectAnswer(await ask(port, `web.demo.svc.${Z}`, 'A'), [`web.demo.svc.${Z} 30 A 10.96.1.10`]);
    });
  });

  describe('UDP size (DNS Flag Day 2020)', () => {
    it('caps UDP answers at 1232 bytes whatever buffer the client announces; TCP carries the whole answer', async () => {
      const name = `many.demo.svc.${Z}`;
      for (const edns of [1232, 4096, 65535]) {
        const raw = await udpRaw(port, queryBytes(name, 'A', { edns }));
        expect(raw!.length, `EDNS ${edns}`).to.be.at.most(1232);
        const p = dnsPacket.decode(raw!);
        expect(p.flag_tc).to.equal(true);
        expect((p.additionals!.find((r) => r.type === 'OPT') as unknown as { udpPayloadSize: number }).udpPayloadSize).to.equal(1232);
      }
      const plain = await udpRaw(port, queryBytes(name, 'A'));
      expect(plain!.length).to.be.at.most(512);
      const all = await tcpQuery(port, name, 'A', { edns: 4096 });
      expect(all.flag_tc).to.equal(false);
      expect(all.answers).to.have.length(100);
    });
  });

  describe('invalid object data never reaches the wire', () => {
    it('a 323-character ExternalName is dropped: the name is NXDOMAIN, not a 327-octet CNAME', async () => {
      for (const t of ['A', 'CNAME', 'TXT']) expectNx(await ask(port, `longext.demo.svc.${Z}`, t));
    });

    it('a 70-character hostname falls back to the dashed IP; the SRV answer is not SERVFAIL', async () => {
      const lh = `longhost.demo.svc.${Z}`;
      expectAnswer(await ask(port, `_http._tcp.${lh}`, 'SRV'), [
        `_http._tcp.${lh} 30 SRV 0 50 80 10-1-7-1.${lh}`,
        `_http._tcp.${lh} 30 SRV 0 50 80 ok-0.${lh}`,
      ], [`10-1-7-1.${lh} 30 A 10.1.7.1`, `ok-0.${lh} 30 A 10.1.7.2`]);
      expectAnswer(await ask(port, `10-1-7-1.${lh}`, 'A'), [`10-1-7-1.${lh} 30 A 10.1.7.1`]);
    });

    it('ports outside 1-65535 are not published (70000 is not 4464)', async () => {
      const bp = `bigport.demo.svc.${Z}`;
      expectNx(await ask(port, `_big._tcp.${bp}`, 'SRV'));
      expectAnswer(await ask(port, bp, 'SRV'), [`${bp} 30 SRV 0 100 80 ${bp}`]);
      expectNx(await ask(port, `_huge._tcp.longhost.demo.svc.${Z}`, 'SRV'));
    });

    it('a service whose name is no DNS label is left out', async () => {
      // No query can spell a 64-character label, but its cluster IP's PTR would carry one (SERVFAIL).
      expectNx(await ask(port, '2.7.96.10.in-addr.arpa', 'PTR'), 'in-addr.arpa 30 SOA ns.dns.in-addr.arpa hostmaster.in-addr.arpa SERIAL 7200 1800 86400 30');
      expectAnswer(await ask(port, '1.7.96.10.in-addr.arpa', 'PTR'), [`1.7.96.10.in-addr.arpa 30 PTR bigport.demo.svc.${Z}`]);
    });

    it('each drop is logged as a warning and counted', async () => {
      const warned = (field: string) => logs.some((l) => l.includes('[WARNING]') && l.includes(`invalid ${field} dropped`));
      for (const f of ['externalName', 'hostname', 'port', 'name']) expect(warned(f), f).to.equal(true);
      expect(logs.some((l) => l.includes('object=demo/longext') && l.includes('(323 characters)'))).to.equal(true);
      const body = (await httpGet(metricsPort, '/metrics')).body;
      const count = (kind: string, field: string): number => {
        const m = new RegExp(`^clusterdns_kubernetes_invalid_fields_total\\{[^}]*kind="${kind}"[^}]*field="${field}"[^}]*\\} (\\d+)$`, 'm').exec(body)
          ?? new RegExp(`^clusterdns_kubernetes_invalid_fields_total\\{[^}]*field="${field}"[^}]*kind="${kind}"[^}]*\\} (\\d+)$`, 'm').exec(body);
        return m ? Number(m[1]) : 0;
      };
      expect(count('services', 'externalName')).to.be.at.least(1);
      expect(count('services', 'port')).to.be.at.least(1);
      expect(count('services', 'name')).to.be.at.least(1);
      expect(count('endpointslices', 'hostname')).to.be.at.least(1);
      expect(count('endpointslices', 'port')).to.be.at.least(1);
    });
  });

  describe('answer memo under a flood of random names', () => {
    it('evicts the least recently used answers: names in use survive 60,000 random ones', async function () {
      this.timeout(180_000);
      const k = srv.server.currentBlocks()[0]!.plugins.find((p) => p.name === 'kubernetes') as unknown as {
        answers: { lookup(lname: string, qtype: number, zone: string): Computed; memoSize: number };
      };
      const real = `web.demo.svc.${Z}`;
      expectAnswer(await ask(port, real, 'A'), [`${real} 30 A 10.96.1.10`]);
      const before = k.answers.lookup(real, QTYPE.A, Z);
      let answered = 0;
      for (let round = 0; round < 60; round++) {
        const names = Array.from({ length: 1000 }, (_, i) => `r${round}-${i}-${Math.random().toString(36).slice(2, 8)}.demo.svc.${Z}`);
        answered += await udpFlood(port, names);
        // Real clients keep asking the real name, over both transports.
        expectAnswer(await ask(port, real, 'A'), [`${real} 30 A 10.96.1.10`]);
      }
      expect(answered).to.be.above(50_000, 'enough of the flood reached the server to fill the memo');
      expect(k.answers.memoSize).to.be.at.most(50_000);
      expect(k.answers.lookup(real, QTYPE.A, Z)).to.equal(before, 'the real name was never dropped from the memo');
    });
  });
});
