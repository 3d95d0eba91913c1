// The plugin end to end with the API source: a Corefile pointing `endpoint`
// at the fake API server; answers follow watch events; an outage keeps the
// last good state.

import { expect } from 'chai';
import { setLogSink } from '../src/log.js';
import { FakeKubeApi, endpointSlice, namespace, pod, service } from './support/kube-api.js';
import type { Running } from './support/server.js';
import { ask, expectAnswer, expectNx, SOA_CLUSTER, start, untilAnswer } from './support/kubernetes-fixtures.js';

const Z = 'cluster.local';

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
    const added = await untilAnswer(() => ask(srv.port, `new.demo.svc.${Z}`, 'A'), (a) => a.rcode === 'NOERROR', 3000);
    expectAnswer(added.value, [`new.demo.svc.${Z} 5 A 10.96.5.2`]);
    // The bound; measured event-to-answer is well under 5 ms (bench/sync.ts).
    expect(added.elapsed).to.be.below(100);

    api.upsert('endpointslices', endpointSlice('demo', 'db-1', 'db', 'IPv4', [
      { addresses: ['10.5.0.1'], hostname: 'db-0', conditions: { ready: true } },
      { addresses: ['10.5.0.2'], hostname: 'db-1', conditions: { ready: true } },
    ], [{ name: 'pg', port: 5432, protocol: 'TCP' }]));
    const grown = await untilAnswer(() => ask(srv.port, `db.demo.svc.${Z}`, 'A'), (a) => a.answer.length === 2, 3000);
    expectAnswer(grown.value, [`db.demo.svc.${Z} 5 A 10.5.0.1`, `db.demo.svc.${Z} 5 A 10.5.0.2`]);

    api.remove('services', 'demo', 'web');
    const gone = await untilAnswer(() => ask(srv.port, `web.demo.svc.${Z}`, 'A'), (a) => a.rcode === 'NXDOMAIN', 3000);
    expectNx(gone.value, SOA_CLUSTER(5));
    expect(gone.elapsed).to.be.below(100);

    api.upsert('endpointslices', endpointSlice('demo', 'db-1', 'db', 'IPv4', [
      { addresses: ['10.5.0.2'], hostname: 'db-1', conditions: { ready: true } },
    ], [{ name: 'pg', port: 5432, protocol: 'TCP' }]));
    const shrunk = await untilAnswer(() => ask(srv.port, `db.demo.svc.${Z}`, 'A'), (a) => a.answer.length === 1, 3000);
    expectAnswer(shrunk.value, [`db.demo.svc.${Z} 5 A 10.5.0.2`]);
    expectNx(await ask(srv.port, `db-0.db.demo.svc.${Z}`, 'A'), SOA_CLUSTER(5));
  });

  it('cut watches + expired history + a delete while disconnected: that object goes, the rest stays', async () => {
    api.upsert('services', service('demo', 'doomed', { clusterIP: '10.96.5.3', ports: [{ name: 'http', port: 80 }] }));
    await untilAnswer(() => ask(srv.port, `doomed.demo.svc.${Z}`, 'A'), (a) => a.rcode === 'NOERROR', 3000);
    // Nothing reaches the client: its watches are silent, then cut; meanwhile the object is deleted and history compacted.
    api.silentWatches = true;
    api.cutWatches();
    api.remove('services', 'demo', 'doomed');
    api.upsert('services', service('demo', 'other', { clusterIP: '10.96.5.4', ports: [{ name: 'http', port: 80 }] }));
    api.expireHistory();
    api.silentWatches = false;
    api.cutWatches();
    const gone = await untilAnswer(() => ask(srv.port, `doomed.demo.svc.${Z}`, 'A'), (a) => a.rcode === 'NXDOMAIN', 8000);
    expectNx(gone.value, SOA_CLUSTER(5));
    const other = await untilAnswer(() => ask(srv.port, `other.demo.svc.${Z}`, 'A'), (a) => a.rcode === 'NOERROR', 8000);
    expectAnswer(other.value, [`other.demo.svc.${Z} 5 A 10.96.5.4`]);
    expectAnswer(await ask(srv.port, `new.demo.svc.${Z}`, 'A'), [`new.demo.svc.${Z} 5 A 10.96.5.2`]);
    expectAnswer(await ask(srv.port, `db.demo.svc.${Z}`, 'A'), [`db.demo.svc.${Z} 5 A 10.5.0.2`]);
  });

  it('5 s of API downtime loses no answer', async function () {
    this.timeout(30000);
    const down = api.goDown(5000);
    let asked = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 5200) {
      expectAnswer(await ask(srv.port, `new.demo.svc.${Z}`, 'A'), [`new.demo.svc.${Z} 5 A 10.96.5.2`]);
      expectAnswer(await ask(srv.port, `db.demo.svc.${Z}`, 'A'), [`db.demo.svc.${Z} 5 A 10.5.0.2`]);
      expectNx(await ask(srv.port, `web.demo.svc.${Z}`, 'A'), SOA_CLUSTER(5));
      asked += 3;
      await new Promise((r) => setTimeout(r, 50));
    }
    await down;
    expect(asked).to.be.greaterThan(60);
    // And it resyncs afterwards: a change made after the outage shows up.
    api.upsert('services', service('demo', 'after', { clusterIP: '10.96.5.5', ports: [{ name: 'http', port: 80 }] }));
    // The retry after the outage may wait out a backoff step (capped at 10 s).
    const after = await untilAnswer(() => ask(srv.port, `after.demo.svc.${Z}`, 'A'), (a) => a.rcode === 'NOERROR', 15000);
    expectAnswer(after.value, [`after.demo.svc.${Z} 5 A 10.96.5.5`]);
  });
});
