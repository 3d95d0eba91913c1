// The `kubernetes` directive's options, each on a real server over UDP and
// TCP, plus the before-first-sync behaviour on the plugin itself.

import { expect } from 'chai';
import { RCODE } from '../src/dns/constants.js';
import { records, type RecordsReply, type Reply } from '../src/dns/reply.js';
import { setLogSink } from '../src/log.js';
import { KubernetesPlugin } from '../src/plugins/kubernetes/kubernetes.js';
import { parseKubernetes } from '../src/plugins/kubernetes/setup.js';
import type { Directive } from '../src/corefile/ast.js';
import type { Request } from '../src/server/plugin.js';
import { freePort, type Running } from './support/server.js';
import { ask, expectAnswer, expectNodata, expectNx, removeDir, SOA_CLUSTER, start, writeCluster } from './support/kubernetes-fixtures.js';

const Z = 'cluster.local';

describe('kubernetes: options', function () {
  this.timeout(15000);
  let dir: string;
  const running: Running[] = [];

  before(() => { dir = writeCluster(); });
  after(async () => {
    for (const r of running) await r.stop();
    removeDir(dir);
  });

  async function serve(options: string, zones = 'cluster.local in-addr.arpa ip6.arpa', extra = ''): Promise<number> {
    const r = await start(`
cluster.local in-addr.arpa ip6.arpa {
    kubernetes ${zones} {
        manifests ${dir}
        ${options}
    }
    ${extra}
}
example.test {
    fixed
}
`);
    running.push(r);
    return r.port;
  }

  it('namespaces: only the listed namespaces exist', async () => {
    const port = await serve('namespaces demo');
    expectAnswer(await ask(port, `web.demo.svc.${Z}`, 'A'), [`web.demo.svc.${Z} 5 A 10.96.1.10`]);
    expectNodata(await ask(port, `demo.svc.${Z}`, 'A'), SOA_CLUSTER(5));
    expectNx(await ask(port, `kubernetes.default.svc.${Z}`, 'A'), SOA_CLUSTER(5));
    expectNx(await ask(port, `default.svc.${Z}`, 'A'), SOA_CLUSTER(5));
    expectNx(await ask(port, `web.other.svc.${Z}`, 'A'), SOA_CLUSTER(5));
    // Reverse answers skip hidden namespaces too.
    expectNx(await ask(port, '1.0.96.10.in-addr.arpa', 'PTR'), SOA_CLUSTER(5).replace(/cluster\.local/g, 'in-addr.arpa'));
    expectAnswer(await ask(port, '9.9.1.10.in-addr.arpa', 'PTR'), [`9.9.1.10.in-addr.arpa 5 PTR x.multi-a.demo.svc.${Z}`]);
  });

  it('namespace_labels: only namespaces whose labels match', async () => {
    const port = await serve('namespace_labels team in (demo, staging)');
    expectAnswer(await ask(port, `web.demo.svc.${Z}`, 'A'), [`web.demo.svc.${Z} 5 A 10.96.1.10`]);
    expectNx(await ask(port, `web.other.svc.${Z}`, 'A'), SOA_CLUSTER(5));
    expectNx(await ask(port, `other.svc.${Z}`, 'A'), SOA_CLUSTER(5));
    // A namespace with no Namespace object has no labels to match.
    expectNx(await ask(port, `svc.implied.svc.${Z}`, 'A'), SOA_CLUSTER(5));
  });

  it('labels: only services whose labels match exist', async () => {
    const port = await serve('labels app=web');
    expectAnswer(await ask(port, `web.demo.svc.${Z}`, 'A'), [`web.demo.svc.${Z} 5 A 10.96.1.10`]);
    expectAnswer(await ask(port, `web.other.svc.${Z}`, 'A'), [`web.other.svc.${Z} 5 A 10.96.2.10`]);
    expectNx(await ask(port, `db.demo.svc.${Z}`, 'A'), SOA_CLUSTER(5));
    expectNx(await ask(port, `kubernetes.default.svc.${Z}`, 'A'), SOA_CLUSTER(5));
    // Endpoints of a filtered-out service give no PTR either.
    expectNx(await ask(port, '10.1.1.10.in-addr.arpa', 'PTR'), SOA_CLUSTER(5).replace(/cluster\.local/g, 'in-addr.arpa'));
  });

  it('ignore empty_service: a ClusterIP service without ready endpoints is NXDOMAIN', async () => {
    const port = await serve('ignore empty_service');
    expectNx(await ask(port, `lonely.demo.svc.${Z}`, 'A'), SOA_CLUSTER(5));
    expectNx(await ask(port, `_http._tcp.lonely.demo.svc.${Z}`, 'SRV'), SOA_CLUSTER(5));
    expectAnswer(await ask(port, `web.demo.svc.${Z}`, 'A'), [`web.demo.svc.${Z} 5 A 10.96.1.10`]);
    // Headless and ExternalName services are not affected.
    expectAnswer(await ask(port, `db.demo.svc.${Z}`, 'A'), [`db.demo.svc.${Z} 5 A 10.1.1.10`, `db.demo.svc.${Z} 5 A 10.1.1.11`]);
  });

  it('noendpoints: no endpoint names, headless services are NXDOMAIN, cluster IPs still answer', async () => {
    const port = await serve('noendpoints');
    expectAnswer(await ask(port, `web.demo.svc.${Z}`, 'A'), [`web.demo.svc.${Z} 5 A 10.96.1.10`]);
    expectNx(await ask(port, `db.demo.svc.${Z}`, 'A'), SOA_CLUSTER(5));
    expectNx(await ask(port, `db-0.db.demo.svc.${Z}`, 'A'), SOA_CLUSTER(5));
    expectNx(await ask(port, '10.1.1.10.in-addr.arpa', 'PTR'), SOA_CLUSTER(5).replace(/cluster\.local/g, 'in-addr.arpa'));
    expectAnswer(await ask(port, '10.1.96.10.in-addr.arpa', 'PTR'), [`10.1.96.10.in-addr.arpa 5 PTR web.demo.svc.${Z}`]);
  });

  it('endpoint_pod_names: endpoints without hostname answer to their pod name (if under 64 chars)', async () => {
    const port = await serve('endpoint_pod_names');
    expectAnswer(await ask(port, `web-a.web.demo.svc.${Z}`, 'A'), [`web-a.web.demo.svc.${Z} 5 A 10.1.0.1`]);
    expectNx(await ask(port, `10-1-0-1.web.demo.svc.${Z}`, 'A'), SOA_CLUSTER(5));
    // A 64-character pod name can't be a label: the dashed IP stays.
    expectAnswer(await ask(port, `10-1-0-4.web.demo.svc.${Z}`, 'A'), [`10-1-0-4.web.demo.svc.${Z} 5 A 10.1.0.4`]);
    // hostname wins over the pod name.
    expectAnswer(await ask(port, `db-1.db.demo.svc.${Z}`, 'A'), [`db-1.db.demo.svc.${Z} 5 A 10.1.1.11`]);
    expectAnswer(await ask(port, '1.0.1.10.in-addr.arpa', 'PTR'), [`1.0.1.10.in-addr.arpa 5 PTR web-a.web.demo.svc.${Z}`]);
    expectAnswer(await ask(port, `_http._tcp.web.demo.svc.${Z}`, 'SRV'), [`_http._tcp.web.demo.svc.${Z} 5 SRV 0 100 80 web.demo.svc.${Z}`]);
  });

  it('fallthrough ZONES: would-be NXDOMAIN in those zones goes to the next plugin', async () => {
    const port = await serve('fallthrough in-addr.arpa ip6.arpa', undefined, 'fixed');
    expectAnswer(await ask(port, '9.9.9.10.in-addr.arpa', 'PTR'), ['9.9.9.10.in-addr.arpa 60 PTR fell.through.example']);
    expectAnswer(await ask(port, '1.0.96.10.in-addr.arpa', 'PTR'), [`1.0.96.10.in-addr.arpa 5 PTR kubernetes.default.svc.${Z}`]);
    expectNx(await ask(port, `nope.demo.svc.${Z}`, 'A'), SOA_CLUSTER(5));
    // NODATA is an answer, not a fall-through.
    expectNodata(await ask(port, `web.demo.svc.${Z}`, 'AAAA'), SOA_CLUSTER(5));
  });

  it('fallthrough without zones: every would-be NXDOMAIN goes on', async () => {
    const port = await serve('fallthrough', undefined, 'fixed');
    expectAnswer(await ask(port, `nope.demo.svc.${Z}`, 'A'), [`nope.demo.svc.${Z} 60 A 192.0.2.1`]);
    expectAnswer(await ask(port, `web.demo.svc.${Z}`, 'A'), [`web.demo.svc.${Z} 5 A 10.96.1.10`]);
  });

  it('pods disabled (default): pod names are NXDOMAIN', async () => {
    const port = await serve('');
    expectNx(await ask(port, `10-1-0-1.demo.pod.${Z}`, 'A'), SOA_CLUSTER(5));
    expectNx(await ask(port, `demo.pod.${Z}`, 'A'), SOA_CLUSTER(5));
    expectNodata(await ask(port, `pod.${Z}`, 'A'), SOA_CLUSTER(5));
  });

  it('pods verified: only an IP a pod in that namespace has', async () => {
    const port = await serve('pods verified');
    expectAnswer(await ask(port, `10-1-0-1.demo.pod.${Z}`, 'A'), [`10-1-0-1.demo.pod.${Z} 5 A 10.1.0.1`]);
    expectAnswer(await ask(port, `fd00--a.demo.pod.${Z}`, 'AAAA'), [`fd00--a.demo.pod.${Z} 5 AAAA fd00::a`]);
    expectNodata(await ask(port, `10-1-0-1.demo.pod.${Z}`, 'AAAA'), SOA_CLUSTER(5));
    expectNx(await ask(port, `10-1-0-1.other.pod.${Z}`, 'A'), SOA_CLUSTER(5));
    expectNx(await ask(port, `10-9-9-9.demo.pod.${Z}`, 'A'), SOA_CLUSTER(5));
    expectNodata(await ask(port, `demo.pod.${Z}`, 'A'), SOA_CLUSTER(5));
  });

  it('ttl: answers carry it; negative answers min(ttl, 300)', async () => {
    const port = await serve('ttl 600');
    expectAnswer(await ask(port, `web.demo.svc.${Z}`, 'A'), [`web.demo.svc.${Z} 600 A 10.96.1.10`]);
    const nx = await ask(port, `nope.demo.svc.${Z}`, 'A');
    expectNx(nx, SOA_CLUSTER(600));
    expect(nx.authority[0]).to.match(/^cluster\.local 300 SOA .* 86400 600$/);
    expectAnswer(await ask(port, `dns-version.${Z}`, 'TXT'), [`dns-version.${Z} 28800 TXT "1.1.0"`]);
    const zero = await serve('ttl 0');
    expectAnswer(await ask(zero, `web.demo.svc.${Z}`, 'A'), [`web.demo.svc.${Z} 0 A 10.96.1.10`]);
    expectNodata(await ask(zero, `web.demo.svc.${Z}`, 'AAAA'), SOA_CLUSTER(0));
  });

  it('zones default to the block\'s; reverse zones not listed give no PTR', async () => {
    const r = await start(`
cluster.local {
    kubernetes {
        manifests ${dir}
    }
}
in-addr.arpa {
    fixed
}
`);
    running.push(r);
    expectAnswer(await ask(r.port, `web.demo.svc.${Z}`, 'A'), [`web.demo.svc.${Z} 5 A 10.96.1.10`]);
    expectAnswer(await ask(r.port, '1.0.96.10.in-addr.arpa', 'PTR'), ['1.0.96.10.in-addr.arpa 60 PTR fell.through.example']);
  });

  it('a narrower reverse zone (CIDR) serves PTR only inside it', async () => {
    const port = await serve('', 'cluster.local 10.96.0.0/16', 'fixed');
    expectAnswer(await ask(port, '1.0.96.10.in-addr.arpa', 'PTR'), [`1.0.96.10.in-addr.arpa 5 PTR kubernetes.default.svc.${Z}`]);
    // 10.1.1.10 is outside 10.96.0.0/16: not ours, the next plugin answers.
    expectAnswer(await ask(port, '10.1.1.10.in-addr.arpa', 'PTR'), ['10.1.1.10.in-addr.arpa 60 PTR fell.through.example']);
    expectNx(await ask(port, '9.9.96.10.in-addr.arpa', 'PTR'), SOA_CLUSTER(5).replace(/cluster\.local/g, '96.10.in-addr.arpa'));
  });
});

describe('kubernetes: before the first sync', function () {
  this.timeout(10000);

  const at = { file: 'test.Corefile', line: 1 };
  const directive = (block: string[][]): Directive => ({
    name: 'kubernetes', args: ['cluster.local', 'in-addr.arpa'], file: at.file, line: 1,
    block: block.map(([name, ...args], i) => ({ name: name!, args, block: null, file: at.file, line: i + 2 })),
  });
  const req = (name: string, type = 1): Request => ({
    raw: Buffer.alloc(0), id: 1, flags: 0, opcode: 0, name, lname: name.toLowerCase(), type, qclass: 1, questionEnd: 0,
    edns: null, proto: 'udp', remoteAddress: '127.0.0.1', localAddress: '127.0.0.1', remotePort: 1, zone: 'cluster.local', server: 'dns://:53', start: 0, internal: false,
  });
  const nextReply: Reply = records(RCODE.NOERROR, 'next', false);
  const next = () => nextReply;
  /** The plugin answered synchronously, with sections (what every assertion here reads). */
  const recordsOf = (r: Reply | Promise<Reply>): RecordsReply => {
    if (r instanceof Promise || r.kind !== 'records') throw new Error('expected a synchronous answer with sections');
    return r;
  };

  function plugin(block: string[][] = []): KubernetesPlugin {
    const opts = parseKubernetes(directive(block), { zones: ['.'], directives: [] });
    return new KubernetesPlugin(opts, { resolve: () => Promise.reject(new Error('no')) });
  }

  it('SERVFAIL (AA, SOA) for anything that would be NXDOMAIN; other answers as usual; ready() after the sync', () => {
    const k = plugin();
    const nx = recordsOf(k.serve(req('nope.demo.svc.cluster.local'), next));
    expect(nx.rcode).to.equal(RCODE.SERVFAIL);
    expect(nx.aa).to.equal(true);
    expect(nx.authority.map((r) => r.type)).to.deep.equal(['SOA']);
    expect((k.serve(req('1.0.0.10.in-addr.arpa', 12), next) as Reply).rcode).to.equal(RCODE.SERVFAIL);
    // The apex and version exist whatever the cluster holds.
    expect(recordsOf(k.serve(req('cluster.local', 6), next)).answer).to.have.length(1);
    expect((k.serve(req('dns-version.cluster.local', 16), next) as Reply).rcode).to.equal(RCODE.NOERROR);
    expect(k.ready()).to.equal(false);

    k.store.replace('services', [{ namespace: 'demo', name: 'web', kind: 'ClusterIP', clusterIPs: ['10.0.0.1'], externalName: '', ports: [], publishNotReadyAddresses: false, labels: {} }]);
    k.store.markSynced('services');
    k.store.markSynced('namespaces');
    // Still waiting for endpointslices: known names answer, unknown ones still SERVFAIL.
    expect(recordsOf(k.serve(req('web.demo.svc.cluster.local'), next)).answer.map((r) => (r as { data: string }).data)).to.deep.equal(['10.0.0.1']);
    expect((k.serve(req('nope.demo.svc.cluster.local'), next) as Reply).rcode).to.equal(RCODE.SERVFAIL);
    k.store.markSynced('endpointslices');
    expect(k.ready()).to.equal(true);
    expect((k.serve(req('nope.demo.svc.cluster.local'), next) as Reply).rcode).to.equal(RCODE.NXDOMAIN);
  });

  it('fallthrough applies before the SERVFAIL', () => {
    const k = plugin([['fallthrough', 'in-addr.arpa']]);
    expect(k.serve(req('1.0.0.10.in-addr.arpa', 12), next)).to.equal(nextReply);
    expect((k.serve(req('nope.svc.cluster.local'), next) as Reply).rcode).to.equal(RCODE.SERVFAIL);
  });

  it('pods verified waits for pods too', () => {
    const k = plugin([['pods', 'verified']]);
    for (const kind of ['services', 'namespaces', 'endpointslices'] as const) k.store.markSynced(kind);
    expect(k.ready()).to.equal(false);
    k.store.markSynced('pods');
    expect(k.ready()).to.equal(true);
  });

  it('a server whose API never answers starts after startup_timeout, warns, and answers SERVFAIL', async () => {
    const lines: string[] = [];
    setLogSink((l) => lines.push(l));
    const dead = await freePort();
    let r: Running | undefined;
    try {
      const t0 = Date.now();
      r = await start(`
cluster.local {
    kubernetes {
        endpoint http://127.0.0.1:${dead}
        startup_timeout 300ms
    }
}
`);
      expect(Date.now() - t0).to.be.within(250, 5000);
      expect(lines.some((l) => /^\[WARNING\] plugin\/kubernetes: starting server with unsynced/.test(l))).to.equal(true);
      const a = await ask(r.port, `web.demo.svc.${Z}`, 'A');
      expect(a.rcode).to.equal('SERVFAIL');
      expect(a.aa).to.equal(true);
      expectAnswer(await ask(r.port, Z, 'SOA'), [SOA_CLUSTER(5)]);
    } finally {
      await r?.stop();
      setLogSink(null);
    }
  });
});
