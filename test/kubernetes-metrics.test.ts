// coredns_kubernetes_dns_programming_duration_seconds over real sockets:
// the fake API server changes EndpointSlices, DNS shows the change, and the
// prometheus endpoint has (or has not) timed it, by service kind.

import { expect } from 'chai';
import { setLogSink } from '../src/log.js';
import { PROGRAMMING_BUCKETS } from '../src/plugins/kubernetes/metrics.js';
import { FakeKubeApi, type KubeObject, endpointSlice, namespace, service } from './support/kube-api.js';
import { ask, start } from './support/kubernetes-fixtures.js';
import { httpGet } from './support/ops.js';
import { freePort, type Running } from './support/server.js';

const Z = 'cluster.local';
const FAMILY = 'coredns_kubernetes_dns_programming_duration_seconds';
const TRIGGER = 'endpoints.kubernetes.io/last-change-trigger-time';

interface Sample { name: string; labels: Record<string, string>; value: number }

async function scrape(port: number): Promise<Sample[]> {
  const r = await httpGet(port, '/metrics');
  expect(r.status).to.equal(200);
  const out: Sample[] = [];
  for (const line of r.body.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m?.[1] === undefined || !m[1].startsWith(FAMILY)) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="([^"]*)"/g)) if (l[1] !== undefined && l[2] !== undefined) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

function value(samples: Sample[], suffix: string, kind: string, le?: string): number | undefined {
  return samples.find((s) => s.name === `${FAMILY}${suffix}` && s.labels.service_kind === kind && (le === undefined || s.labels.le === le))?.value;
}

/** A slice of one ready address, annotated with `trigger` unless it is undefined. */
function slice(ns: string, name: string, svc: string, ip: string, trigger?: string): KubeObject {
  const s = endpointSlice(ns, name, svc, 'IPv4', [{ addresses: [ip], conditions: { ready: true } }], [{ name: 'http', port: 80, protocol: 'TCP' }]);
  if (trigger !== undefined) s.metadata.annotations = { [TRIGGER]: trigger };
  return s;
}

async function answersWith(port: number, name: string, ip: string): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const a = await ask(port, name, 'A').catch(() => undefined);
    if (a?.answer.some((l) => l.endsWith(` A ${ip}`))) return;
    if (Date.now() - t0 > 5000) throw new Error(`${name} never answered ${ip}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('kubernetes: DNS programming duration', function () {
  this.timeout(20000);
  let api: FakeKubeApi;
  let srv: Running;
  let metricsPort: number;
  const logs: string[] = [];

  before(async () => {
    setLogSink((l) => logs.push(l));
    api = new FakeKubeApi();
    await api.start();
    api.upsert('namespaces', namespace('demo'));
    api.upsert('services', service('demo', 'web', { clusterIP: '10.96.7.1', clusterIPs: ['10.96.7.1'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }));
    api.upsert('services', service('demo', 'db', { clusterIP: 'None', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }));
    // In the first list, without the annotation: nothing to time.
    api.upsert('endpointslices', slice('demo', 'db-1', 'db', '10.7.0.1'));
    metricsPort = await freePort();
    srv = await start(`
${Z} {
    prometheus 127.0.0.1:${metricsPort}
    kubernetes ${Z} {
        endpoint ${api.url}
    }
}
`);
    await answersWith(srv.port, `db.demo.svc.${Z}`, '10.7.0.1');
  });
  after(async () => {
    await srv?.stop();
    await api?.stop();
    setLogSink(null);
  });

  it('a slice change without the annotation records nothing', async () => {
    api.upsert('endpointslices', slice('demo', 'db-1', 'db', '10.7.0.2'));
    await answersWith(srv.port, `db.demo.svc.${Z}`, '10.7.0.2');
    expect(await scrape(metricsPort)).to.deep.equal([]);
  });

  it('an annotated change to a headless service: one sample, service_kind headless_with_selector, timed from the trigger', async () => {
    api.upsert('endpointslices', slice('demo', 'db-1', 'db', '10.7.0.3', new Date(Date.now() - 2000).toISOString()));
    await answersWith(srv.port, `db.demo.svc.${Z}`, '10.7.0.3');
    const s = await scrape(metricsPort);
    expect(value(s, '_count', 'headless_with_selector')).to.equal(1);
    expect(value(s, '_sum', 'headless_with_selector')).to.be.at.least(2);
    // 2 s ago: above the 1.024 s bucket, within 4.096 s unless the machine stalled for 2 s.
    expect(value(s, '_bucket', 'headless_with_selector', '1.024')).to.equal(0);
    expect(value(s, '_bucket', 'headless_with_selector', '+Inf')).to.equal(1);
    // CoreDNS's buckets: 1 ms doubling to 524.288 s.
    const les = s.filter((x) => x.name === `${FAMILY}_bucket` && x.labels.service_kind === 'headless_with_selector').map((x) => x.labels.le);
    expect(les).to.deep.equal([...PROGRAMMING_BUCKETS.map((b) => String(Number(b.toPrecision(12)))), '+Inf']);
    expect(les[0]).to.equal('0.001');
    expect(les[19]).to.equal('524.288');
    expect(value(s, '_count', 'cluster_ip')).to.equal(undefined);
  });

  it('an annotated slice of a ClusterIP service is labelled cluster_ip; a deletion with the annotation counts too', async () => {
    const trigger = new Date(Date.now() - 100).toISOString().replace('Z', '123456Z'); // RFC 3339 with nanoseconds, as the API writes it
    api.upsert('endpointslices', slice('demo', 'web-1', 'web', '10.7.1.1', trigger));
    await answersWith(srv.port, `10-7-1-1.web.demo.svc.${Z}`, '10.7.1.1');
    let s = await scrape(metricsPort);
    expect(value(s, '_count', 'cluster_ip')).to.equal(1);
    expect(value(s, '_count', 'headless_with_selector')).to.equal(1);

    api.remove('endpointslices', 'demo', 'web-1');
    const t0 = Date.now();
    while ((await ask(srv.port, `10-7-1-1.web.demo.svc.${Z}`, 'A')).rcode !== 'NXDOMAIN' && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    s = await scrape(metricsPort);
    expect(value(s, '_count', 'cluster_ip')).to.equal(2);
  });

  it('an annotation that is not RFC 3339 records nothing and says so', async () => {
    api.upsert('endpointslices', slice('demo', 'db-1', 'db', '10.7.0.4', 'wrong-value'));
    await answersWith(srv.port, `db.demo.svc.${Z}`, '10.7.0.4');
    const s = await scrape(metricsPort);
    expect(value(s, '_count', 'headless_with_selector')).to.equal(1);
    expect(logs.some((l) => /last-change-trigger-time is not RFC 3339.*demo\/db-1/.test(l))).to.equal(true);
  });
});
