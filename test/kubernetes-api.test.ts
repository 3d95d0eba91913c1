// The plugin end to end with the API source: a Corefile pointing `endpoint`
// at the fake API server; answers follow watch events; an outage keeps the
// last good state.

import { expect } from 'chai';
import { setLogSink } from '../src/log.js';
import { FakeKubeApi, endpointSlice, namespace, pod, service } from './support/kube-api.js';
import type { Running } from './support/server.js';
import { ask, expectAnswer, expectNx, SOA_CLUSTER, start } from './kubernetes-fixtures.js';

const Z = 'cluster.local';

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<{ value: T; elapsed: number }> {
  const t0 = Date.now();
  for (;;) {
    const value = await fn();
    const elapsed = Date.now() - t0;
    if (ok(value) || elapsed > ms) return { value, elapsed };
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('kubernetes: with the API source', function () {
  this.timeout(15000);
  let api: FakeKubeApi;
  let srv: Running;
  const logs: string[] = [];

  before(async () => {
    setLogSink((l) => logs.push(l));
    api = new FakeKubeApi();
    await api.start();
    api.upsert('namespaces', namespace('demo', { team: 'demo' }));
    api.upsert('namespaces', namespace('hidden', { team: 'x' }));
    api.upsert('services', service('demo', 'web', { clusterIP: '10.96.5.1', clusterIPs: ['10.96.5.1'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }, { app: 'web' }));
    api.upsert('services', service('demo', 'db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] }, { app: 'db' }));
    api.upsert('services', service('hidden', 'web', { clusterIP: '10.96.5.9', ports: [{ name: 'http', port: 80 }] }, { app: 'web' }));
    api.upsert('endpointslices', endpointSlice('demo', 'db-1', 'db', 'IPv4',
      [{ addresses: ['10.5.0.1'], hostname: 'db-0', conditions: { ready: true } }], [{ name: 'pg', port: 5432, protocol: 'TCP' }]));
    api.upsert('pods', pod('demo', 'db-0', '10.5.0.1'));
    srv = await start(`
cluster.local in-addr.arpa {
    kubernetes cluster.local in-addr.arpa {
        endpoint ${api.url}
        namespace_labels team=demo
        pods verified
    }
}
`);
  });
  after(async () => {
    await srv?.stop();
    await api?.stop();
    setLogSink(null);
  });

  it('answers from the synced store', async () => {
    expectAnswer(await ask(srv.port, `web.demo.svc.${Z}`, 'A'), [`web.demo.svc.${Z} 5 A 10.96.5.1`]);
    expectAnswer(await ask(srv.port, `db.demo.svc.${Z}`, 'A'), [`db.demo.svc.${Z} 5 A 10.5.0.1`]);
    expectAnswer(await ask(srv.port, `10-5-0-1.demo.pod.${Z}`, 'A'), [`10-5-0-1.demo.pod.${Z} 5 A 10.5.0.1`]);
    expectAnswer(await ask(srv.port, '1.0.5.10.in-addr.arpa', 'PTR'), [`1.0.5.10.in-addr.arpa 5 PTR db-0.db.demo.svc.${Z}`]);
    expectNx(await ask(srv.port, `web.hidden.svc.${Z}`, 'A'), SOA_CLUSTER(5));
  });

  it('follows watch events at once', async () => {
    api.upsert('services', service('demo', 'new', { clusterIP: '10.96.5.2', ports: [{ name: 'http', port: 80 }] }));
    const added = await until(() => ask(srv.port, `new.demo.svc.${Z}`, 'A'), (a) => a.rcode === 'NOERROR', 3000);
    expectAnswer(added.value, [`new.demo.svc.${Z} 5 A 10.96.5.2`]);
    expect(added.elapsed).to.be.below(1000);

    api.upsert('endpointslices', endpointSlice('demo', 'db-1', 'db', 'IPv4', [
      { addresses: ['10.5.0.1'], hostname: 'db-0', conditions: { ready: true } },
      { addresses: ['10.5.0.2'], hostname: 'db-1', conditions: { ready: true } },
    ], [{ name: 'pg', port: 5432, protocol: 'TCP' }]));
    const grown = await until(() => ask(srv.port, `db.demo.svc.${Z}`, 'A'), (a) => a.answer.length === 2, 3000);
    expectAnswer(grown.value, [`db.demo.svc.${Z} 5 A 10.5.0.1`, `db.demo.svc.${Z} 5 A 10.5.0.2`]);

    api.remove('services', 'demo', 'web');
    const gone = await until(() => ask(srv.port, `web.demo.svc.${Z}`, 'A'), (a) => a.rcode === 'NXDOMAIN', 3000);
    expectNx(gone.value, SOA_CLUSTER(5));
    expect(gone.elapsed).to.be.below(1000);
  });

  it('keeps answering from the last good state while the API is down', async () => {
    const down = api.goDown(1500);
    await new Promise((r) => setTimeout(r, 300));
    expectAnswer(await ask(srv.port, `new.demo.svc.${Z}`, 'A'), [`new.demo.svc.${Z} 5 A 10.96.5.2`]);
    expectNx(await ask(srv.port, `web.demo.svc.${Z}`, 'A'), SOA_CLUSTER(5));
    await down;
  });
});
