// k8s_external over real UDP and TCP: external IPs and LoadBalancer
// ingress of the manifests cluster under example.org, the zone's apex, the
// headless option, fallthrough, and a live LoadBalancer update through the
// test API server.

import { expectRefused } from './support/refuse.js';
import { expect } from 'chai';
import { setLogSink } from '../src/log.js';
import { toService } from '../src/plugins/kubernetes/objects.js';
import { FakeKubeApi, namespace, service } from './support/kube-api.js';
import { answerCase, ask, CLUSTER, nodataCase, nxCase, removeDir, runCases, start, writeCluster, type Answer } from './support/kubernetes-fixtures.js';
import type { Running } from './support/server.js';
import { startUpstream, type Upstream } from './support/upstream.js';

const X = 'example.org';
const SOA = (ttl = 5, apex = 'dns') => `${X} ${ttl} SOA ns1.${apex}.${X} hostmaster.${apex}.${X} SERIAL 7200 1800 86400 ${ttl}`;

const EXTERNAL = `
apiVersion: v1
kind: Service
metadata: {name: pub, namespace: demo}
spec:
  clusterIP: 10.96.5.1
  externalIPs: [192.0.2.10, "2001:db8::10"]
  ports:
    - {name: http, port: 80, protocol: TCP}
    - {name: dns, port: 53, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: demo}
spec: {type: LoadBalancer, clusterIP: 10.96.5.2, ports: [{name: https, port: 443, protocol: TCP}]}
status: {loadBalancer: {ingress: [{ip: 198.51.100.7}]}}
---
apiVersion: v1
kind: Service
metadata: {name: lbh, namespace: demo}
spec: {type: LoadBalancer, clusterIP: 10.96.5.3, ports: [{name: https, port: 443, protocol: TCP}]}
status: {loadBalancer: {ingress: [{hostname: LB.example.test.}]}}
`;

describe('k8s_external', function () {
  this.timeout(15000);
  let dir: string;
  before(() => {
    setLogSink(() => {});
    dir = writeCluster({ ...CLUSTER, 'demo/external.yaml': (CLUSTER['demo/external.yaml'] ?? '') + '---' + EXTERNAL });
  });
  after(() => {
    setLogSink(null);
    removeDir(dir);
  });

  describe('defaults', () => {
    let srv: Running;
    let up: Upstream;
    before(async () => {
      up = await startUpstream();
      srv = await start(`
. {
    k8s_external ${X}
    kubernetes cluster.local {
        manifests ${dir}
        ttl 30
    }
    forward . ${up.hostPort}
}
`);
    });
    after(async () => {
      await srv?.stop();
      await up?.stop();
    });

    it('answers spec.externalIPs (A and AAAA, TTL 5) and LoadBalancer ingress IPs under <svc>.<ns>.<zone>', async () => {
      await runCases(srv.port, [
        answerCase(`pub.demo.${X}`, 'A', [`pub.demo.${X} 5 A 192.0.2.10`]),
        answerCase(`pub.demo.${X}`, 'AAAA', [`pub.demo.${X} 5 AAAA 2001:db8::10`]),
        answerCase(`lb.demo.${X}`, 'A', [`lb.demo.${X} 5 A 198.51.100.7`]),
        nodataCase(`lb.demo.${X}`, 'AAAA', SOA()),
        nodataCase(`pub.demo.${X}`, 'TXT', SOA()),
      ]);
    });

    it('SRV for named ports: weight 100/n over (address, port) pairs, the addresses in additional', async () => {
      await runCases(srv.port, [
        answerCase(`_http._tcp.pub.demo.${X}`, 'SRV', [`_http._tcp.pub.demo.${X} 30 SRV 0 50 80 pub.demo.${X}`],
          [`pub.demo.${X} 5 A 192.0.2.10`, `pub.demo.${X} 5 AAAA 2001:db8::10`]),
        answerCase(`pub.demo.${X}`, 'SRV', [`pub.demo.${X} 30 SRV 0 25 80 pub.demo.${X}`, `pub.demo.${X} 30 SRV 0 25 53 pub.demo.${X}`]),
        nxCase(`_ftp._tcp.pub.demo.${X}`, 'SRV', SOA()),
        nxCase(`_http._udp.pub.demo.${X}`, 'SRV', SOA()),
      ]);
    });

    it('a LoadBalancer hostname ingress is a CNAME, followed through the server', async () => {
      const a = await ask(srv.port, `lbh.demo.${X}`, 'A');
      expect(a.rcode).to.equal('NOERROR');
      expect(a.aa).to.equal(true);
      expect(a.answer).to.deep.equal([`lbh.demo.${X} 30 CNAME lb.example.test`, 'lb.example.test 60 A 192.0.2.53']);
    });

    it('NXDOMAIN (SOA) for services without external addresses, unknown names and namespaces; NODATA for a namespace', async () => {
      await runCases(srv.port, [
        nxCase(`web.demo.${X}`, 'A', SOA()),
        nxCase(`db.demo.${X}`, 'A', SOA()),
        nxCase(`nope.demo.${X}`, 'A', SOA()),
        nxCase(`pub.nons.${X}`, 'A', SOA()),
        nxCase(`a.b.c.pub.demo.${X}`, 'A', SOA()),
        nodataCase(`demo.${X}`, 'A', SOA()),
      ]);
    });

    it('the apex: SOA, NS ns1.dns.<zone> with this server\'s address; dns.<zone> is empty, ns1.dns.<zone> has the address', async () => {
      await runCases(srv.port, [
        answerCase(X, 'SOA', [SOA()]),
        answerCase(X, 'NS', [`${X} 5 NS ns1.dns.${X}`], [`ns1.dns.${X} 5 A 127.0.0.1`]),
        nodataCase(X, 'A', SOA()),
        answerCase(`ns1.dns.${X}`, 'A', [`ns1.dns.${X} 5 A 127.0.0.1`]),
        nodataCase(`ns1.dns.${X}`, 'AAAA', SOA()),
        nodataCase(`dns.${X}`, 'A', SOA()),
        nxCase(`ns2.dns.${X}`, 'A', SOA()),
        nxCase(`a.ns1.dns.${X}`, 'A', SOA()),
      ]);
    });

    it('leaves names outside its zone to the rest of the chain', async () => {
      const a = await ask(srv.port, 'www.example.net', 'A');
      expect(a.answer).to.deep.equal(['www.example.net 60 A 192.0.2.53']);
      const k = await ask(srv.port, 'web.demo.svc.cluster.local', 'A');
      expect(k.answer).to.deep.equal(['web.demo.svc.cluster.local 30 A 10.96.1.10']);
    });
  });

  describe('options', () => {
    let srv: Running;
    before(async () => {
      srv = await start(`
. {
    k8s_external ${X} {
        headless
        apex ext
        ttl 10
        fallthrough
    }
    kubernetes cluster.local {
        manifests ${dir}
    }
    fixed
}
`);
    });
    after(async () => { await srv?.stop(); });

    it('headless: a headless service\'s serving endpoints, by service and by endpoint label, and SRV per endpoint', async () => {
      await runCases(srv.port, [
        answerCase(`db.demo.${X}`, 'A', [`db.demo.${X} 10 A 10.1.1.10`, `db.demo.${X} 10 A 10.1.1.11`]),
        answerCase(`db-1.db.demo.${X}`, 'A', [`db-1.db.demo.${X} 10 A 10.1.1.11`]),
        answerCase(`_postgres._tcp.db.demo.${X}`, 'SRV',
          [`_postgres._tcp.db.demo.${X} 5 SRV 0 50 5432 db-0.db.demo.${X}`, `_postgres._tcp.db.demo.${X} 5 SRV 0 50 5432 db-1.db.demo.${X}`],
          [`db-0.db.demo.${X} 10 A 10.1.1.10`, `db-1.db.demo.${X} 10 A 10.1.1.11`]),
      ]);
    });

    it('apex and ttl change the SOA and NS names and every TTL', async () => {
      await runCases(srv.port, [
        answerCase(X, 'SOA', [SOA(10, 'ext')]),
        answerCase(`pub.demo.${X}`, 'A', [`pub.demo.${X} 10 A 192.0.2.10`]),
        answerCase(`ns1.ext.${X}`, 'A', [`ns1.ext.${X} 10 A 127.0.0.1`]),
      ]);
    });

    it('fallthrough: NXDOMAIN names go on down the chain; NODATA does not', async () => {
      const a = await ask(srv.port, `web.demo.${X}`, 'A');
      expect(a.answer).to.deep.equal([`web.demo.${X} 60 A 192.0.2.1`]);
      const b = await ask(srv.port, `pub.demo.${X}`, 'TXT');
      expect(b.rcode).to.equal('NOERROR');
      expect(b.authority).to.deep.equal([SOA(10, 'ext')]);
    });
  });

  describe('service records', () => {
    it('keep spec.externalIPs then each ingress ip (else hostname), once each; nothing when there are none', () => {
      const rec = toService({
        metadata: { name: 'x', namespace: 'demo' },
        spec: { type: 'LoadBalancer', clusterIP: '10.0.0.1', externalIPs: ['192.0.2.1', '2001:DB8:0::1', 'bogus'] },
        status: { loadBalancer: { ingress: [{ ip: '198.51.100.1', hostname: 'ignored.example' }, { hostname: 'LB.Example.' }, { ip: '192.0.2.1' }] } },
      });
      expect(rec?.externalIPs).to.deep.equal(['192.0.2.1', '2001:db8::1', '198.51.100.1', 'lb.example']);
      const plain = toService({ metadata: { name: 'y' }, spec: { clusterIP: '10.0.0.2' }, status: { loadBalancer: {} } });
      expect(plain !== null && 'externalIPs' in plain).to.equal(false);
    });
  });

  describe('configuration', () => {
    const refuse = expectRefused;

    it('refuses a block without kubernetes, a bad ttl or apex, unknown options', () => {
      refuse(`.:53 {\n  k8s_external ${X}\n  forward . 127.0.0.1\n}\n`, /needs a kubernetes plugin in this server block/, 2);
      refuse(`.:53 {\n  kubernetes cluster.local\n  k8s_external ${X} {\n    ttl 4000\n  }\n}\n`, /ttl/, 4);
      refuse(`.:53 {\n  kubernetes cluster.local\n  k8s_external ${X} {\n    apex a.b\n  }\n}\n`, /not a DNS label/, 4);
      refuse(`.:53 {\n  kubernetes cluster.local\n  k8s_external ${X} {\n    wildcard\n  }\n}\n`, /unknown option "wildcard"/, 4);
    });
  });

  describe('with the API source', () => {
    it('follows a LoadBalancer\'s ingress IP as it changes', async () => {
      const api = new FakeKubeApi();
      await api.start();
      api.upsert('namespaces', namespace('demo'));
      const lb = (ip: string) => service('demo', 'lb', { type: 'LoadBalancer', clusterIP: '10.96.5.2', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] },
        undefined, ip === '' ? {} : { loadBalancer: { ingress: [{ ip }] } });
      api.upsert('services', lb(''));
      const srv = await start(`
. {
    k8s_external ${X}
    kubernetes cluster.local {
        endpoint ${api.url}
    }
}
`);
      try {
        const poll = async (want: (a: Answer) => boolean): Promise<Answer> => {
          const t0 = Date.now();
          for (;;) {
            const a = await ask(srv.port, `lb.demo.${X}`, 'A').catch(() => null);
            if (a !== null && want(a)) return a;
            if (Date.now() - t0 > 5000) throw new Error('no change seen');
            await new Promise((r) => setTimeout(r, 10));
          }
        };
        expect((await ask(srv.port, `lb.demo.${X}`, 'A')).rcode).to.equal('NXDOMAIN');
        api.upsert('services', lb('203.0.113.5'));
        expect((await poll((a) => a.rcode === 'NOERROR')).answer).to.deep.equal([`lb.demo.${X} 5 A 203.0.113.5`]);
        api.upsert('services', lb('203.0.113.6'));
        expect((await poll((a) => a.answer[0]?.endsWith('203.0.113.6') === true)).answer).to.deep.equal([`lb.demo.${X} 5 A 203.0.113.6`]);
      } finally {
        await srv.stop();
        await api.stop();
      }
    });
  });
});
