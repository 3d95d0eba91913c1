import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setLogSink } from '../src/log.js';
import { rcodeOf, rrLines, udpQuery } from './support/dns.js';
import { startCorefile, type Running } from './support/server.js';
import { startUpstream, type Upstream } from './support/upstream.js';

const SERVICE = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  clusterIP: 10.96.7.7
  clusterIPs: [10.96.7.7]
  ports: [{name: http, port: 80, protocol: TCP}]
`;

describe('forward: stub domains (a server block per zone, most specific wins)', () => {
  let tmp: string;
  let general: Upstream;
  let acme: Upstream;
  let deep: Upstream;
  let srv: Running;

  before(async () => {
    setLogSink(() => undefined);
    tmp = mkdtempSync(join(tmpdir(), 'clusterdns-stub-'));
    writeFileSync(join(tmp, 'web.yaml'), SERVICE);
    general = await startUpstream({ answer: (q) => ({ answers: [{ name: q.name, type: 'A', ttl: 60, data: '192.0.2.100' }] }) });
    acme = await startUpstream({ answer: (q) => ({ answers: [{ name: q.name, type: 'A', ttl: 60, data: '192.0.2.200' }] }) });
    deep = await startUpstream({ answer: (q) => ({ answers: [{ name: q.name, type: 'A', ttl: 60, data: '192.0.2.250' }] }) });
    // The kubeadm block (kubernetes beside forward in "."), plus stub domains as kube-dns's
    // stubDomains become: one block per zone.
    srv = await startCorefile(`
.:53 {
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       manifests ${tmp}
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    forward . ${general.hostPort} {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loadbalance
}
acme.local:53 {
    errors
    cache 30
    forward . ${acme.hostPort}
}
lab.acme.local:53 {
    errors
    forward . ${deep.hostPort}
}
`);
  });

  after(async () => {
    await srv.stop();
    await Promise.all([general.stop(), acme.stop(), deep.stop()]);
    rmSync(tmp, { recursive: true, force: true });
    setLogSink(null);
  });

  it('sends stub-domain names to the stub upstream', async () => {
    const a = await udpQuery(srv.port, 'db.acme.local', 'A');
    expect(rrLines(a.answers)).to.deep.equal(['db.acme.local A 192.0.2.200']);
    expect(a.flag_ra).to.equal(true);
    const apex = await udpQuery(srv.port, 'ACME.local', 'A');
    expect(rrLines(apex.answers)).to.deep.equal(['ACME.local A 192.0.2.200']);
  });

  it('the most specific stub zone wins', async () => {
    const a = await udpQuery(srv.port, 'x.lab.acme.local', 'A');
    expect(rrLines(a.answers)).to.deep.equal(['x.lab.acme.local A 192.0.2.250']);
  });

  it('cluster names come from kubernetes, other names from the general upstream', async () => {
    const k = await udpQuery(srv.port, 'web.demo.svc.cluster.local', 'A');
    expect(rrLines(k.answers)).to.deep.equal(['web.demo.svc.cluster.local A 10.96.7.7']);
    expect(k.flag_aa).to.equal(true);
    const nx = await udpQuery(srv.port, 'nope.demo.svc.cluster.local', 'A');
    expect(rcodeOf(nx)).to.equal('NXDOMAIN');
    const e = await udpQuery(srv.port, 'www.example.org', 'A');
    expect(rrLines(e.answers)).to.deep.equal(['www.example.org A 192.0.2.100']);
  });

  it('no upstream saw a name it does not own', () => {
    expect(general.queries.map((q) => q.name)).to.deep.equal(['www.example.org']);
    expect(acme.queries.map((q) => q.name.toLowerCase())).to.deep.equal(['db.acme.local', 'acme.local']);
    expect(deep.queries.map((q) => q.name)).to.deep.equal(['x.lab.acme.local']);
  });
});
