// The API source (src/plugins/kubernetes/api-source.ts) with the real
// @kubernetes/client-node against the fault-injecting fake API server.

import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Kind, RecordOf, ServiceRecord, SliceRecord, StoreSink } from '../src/plugins/kubernetes/objects.js';
import type { ApiSourceOptions } from '../src/plugins/kubernetes/source.js';
import { ApiSource, type ApiSourceTuning, parseRetryAfter } from '../src/plugins/kubernetes/api-source.js';
import { kubernetesSamples } from '../src/plugins/kubernetes/families.js';
import { FakeKubeApi, type FakeKubeApiOptions, endpointSlice, endpoints, namespace, pod, service } from './support/kube-api.js';

const KINDS: Kind[] = ['services', 'endpointslices', 'namespaces', 'pods'];

/** A store stand-in: one Map per kind, keyed "ns/name" (or "name" for namespaces). */
class RecordingSink implements StoreSink {
  readonly maps: Record<Kind, Map<string, unknown>> = {
    services: new Map(),
    endpointslices: new Map(),
    namespaces: new Map(),
    pods: new Map(),
  };
  readonly synced = new Set<Kind>();
  readonly replaces: Record<Kind, number> = { services: 0, endpointslices: 0, namespaces: 0, pods: 0 };

  upsert<K extends Kind>(kind: K, rec: RecordOf<K>): void {
    const ns = (rec as { namespace?: string }).namespace ?? '';
    this.maps[kind].set(ns ? `${ns}/${rec.name}` : rec.name, rec);
  }
  remove(kind: Kind, ns: string, name: string): void {
    this.maps[kind].delete(ns ? `${ns}/${name}` : name);
  }
  replace<K extends Kind>(kind: K, recs: Array<RecordOf<K>>): void {
    const m = new Map<string, unknown>();
    for (const rec of recs) {
      const ns = (rec as { namespace?: string }).namespace ?? '';
      m.set(ns ? `${ns}/${rec.name}` : rec.name, rec);
    }
    this.maps[kind] = m;
    this.replaces[kind]++;
  }
  markSynced(kind: Kind): void {
    this.synced.add(kind);
  }
  svc(key: string): ServiceRecord | undefined {
    return this.maps.services.get(key) as ServiceRecord | undefined;
  }
  slice(key: string): SliceRecord | undefined {
    return this.maps.endpointslices.get(key) as SliceRecord | undefined;
  }
  has(kind: Kind, key: string): boolean {
    return this.maps[kind].has(key);
  }
  sizes(): Record<Kind, number> {
    return { services: this.maps.services.size, endpointslices: this.maps.endpointslices.size, namespaces: this.maps.namespaces.size, pods: this.maps.pods.size };
  }
}

async function until(cond: () => boolean, ms = 3000, what = 'condition'): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return Date.now() - t0;
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function ep(ip: string, pod?: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { addresses: [ip], conditions: { ready: true }, ...(pod ? { targetRef: { kind: 'Pod', name: pod, namespace: 'default' } } : {}), ...extra };
}

function seed(api: FakeKubeApi): void {
  for (const n of ['default', 'kube-system', 'prod']) api.upsert('namespaces', namespace(n));
  api.upsert('services', service('default', 'web', { type: 'ClusterIP', clusterIP: '10.0.0.10', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }, { app: 'web' }));
  api.upsert('services', service('default', 'db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] }, { app: 'db' }));
  api.upsert(
    'services',
    service('kube-system', 'kube-dns', { clusterIP: '10.0.0.53', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] }, { app: 'dns' }),
  );
  api.upsert('services', service('prod', 'ext', { type: 'ExternalName', externalName: 'Example.COM.' }));
  api.upsert('endpointslices', endpointSlice('default', 'web-abc', 'web', 'IPv4', [ep('10.1.0.1', 'web-1'), ep('10.1.0.2', 'web-2')], [{ name: 'http', port: 8080, protocol: 'TCP' }]));
  api.upsert('endpointslices', endpointSlice('default', 'db-xyz', 'db', 'IPv4', [ep('10.1.0.5', 'db-0', { hostname: 'db-0' })], [{ name: 'pg', port: 5432, protocol: 'TCP' }]));
  api.upsert('endpointslices', endpointSlice('kube-system', 'kube-dns-1', 'kube-dns', 'IPv4', [ep('10.1.0.53')], [{ name: 'dns', port: 53, protocol: 'UDP' }]));
  api.upsert('pods', pod('default', 'web-1', '10.1.0.1'));
  api.upsert('pods', pod('default', 'web-2', ['10.1.0.2', 'fd00::2']));
}

interface Env {
  api: FakeKubeApi;
  src: ApiSource;
  sink: RecordingSink;
  logs: string[];
}

/** Fast but realistic tuning for tests (default 200 ms first retry; shorter cap and relist throttle). */
const TEST_TUNING: ApiSourceTuning = { backoffMaxMs: 1000, relistMinIntervalMs: 200 };

describe('kubernetes API source (list+watch) against the fake API server', function () {
  this.timeout(15000);
  let cleanups: Array<() => Promise<void> | void> = [];
  let tmp: string;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clusterdns-watch-'));
    // Pay client-node's import cost once, outside any timing.
    await import('@kubernetes/client-node');
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups = [];
  });

  async function setup(
    o: { api?: FakeKubeApiOptions; source?: Partial<ApiSourceOptions>; tuning?: ApiSourceTuning; seed?: (api: FakeKubeApi) => void; start?: boolean } = {},
  ): Promise<Env> {
    const api = new FakeKubeApi(o.api);
    await api.start();
    cleanups.push(() => api.stop());
    (o.seed ?? seed)(api);
    const logs: string[] = [];
    const opts: ApiSourceOptions = { watchPods: true, watchEndpoints: true, ...o.source };
    if (!opts.kubeconfig && !opts.endpoint) opts.endpoint = api.url;
    const src = new ApiSource(opts, (level, msg, fields) => logs.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`), { ...TEST_TUNING, ...o.tuning });
    cleanups.unshift(() => src.stop());
    const sink = new RecordingSink();
    if (o.start !== false) src.start(sink);
    return { api, src, sink, logs };
  }

  async function synced(env: Env, kinds: Kind[] = KINDS): Promise<void> {
    await until(() => kinds.every((k) => env.sink.synced.has(k)), 5000, `synced ${kinds.join(',')}`);
    // ...and watching: one open watch per kind on the server.
    await until(() => env.api.watchCount() === kinds.length, 3000, 'watches open');
  }

  it('lists every kind in pages, marks it synced, then watches from the list RV with bookmarks and a timeout', async () => {
    const env = await setup({ start: false, tuning: { pageSize: 2 } });
    const file = env.api.writeKubeconfig(tmp);
    const src = new ApiSource({ kubeconfig: { path: file, context: 'fake' }, watchPods: true, watchEndpoints: true }, (l, m, f) => env.logs.push(`${l} ${m} ${JSON.stringify(f)}`), {
      pageSize: 2,
    });
    cleanups.unshift(() => src.stop());
    env.src = src;
    const listRv = env.api.resourceVersion();
    const t0 = Date.now();
    src.start(env.sink);
    await synced(env);
    const ms = Date.now() - t0;
    expect(ms).to.be.below(3000);

    const { sink } = env;
    expect(sink.sizes()).to.deep.equal({ services: 4, endpointslices: 3, namespaces: 3, pods: 2 });
    expect(sink.svc('default/web')).to.deep.include({ kind: 'ClusterIP', clusterIPs: ['10.0.0.10'] });
    expect(sink.svc('default/db')).to.deep.include({ kind: 'Headless', clusterIPs: [] });
    expect(sink.svc('prod/ext')).to.deep.include({ kind: 'ExternalName', externalName: 'example.com' });
    expect(sink.slice('default/db-xyz')).to.deep.include({ service: 'db' });
    expect(sink.slice('default/db-xyz')!.endpoints[0]).to.deep.equal({ addresses: ['10.1.0.5'], ready: true, hostname: 'db-0', podName: 'db-0' });
    expect(sink.maps.pods.get('default/web-2')).to.deep.equal({ namespace: 'default', name: 'web-2', ips: ['10.1.0.2', 'fd00::2'] });
    expect(sink.has('namespaces', 'kube-system')).to.equal(true);
    for (const k of KINDS) expect(sink.replaces[k], k).to.equal(1);

    // Paged lists (limit=2 + continue), then a watch from the list's RV.
    const reqs = env.api.requests;
    const svcLists = reqs.filter((r) => r.path === '/api/v1/services' && r.query.watch !== 'true');
    expect(svcLists.map((r) => r.query.limit)).to.deep.equal(['2', '2']);
    expect(svcLists[1]!.query.continue).to.be.a('string').and.not.empty;
    expect(reqs.some((r) => r.path === '/apis/discovery.k8s.io/v1')).to.equal(true);
    const watches = reqs.filter((r) => r.query.watch === 'true');
    expect(watches.map((r) => r.path).sort()).to.deep.equal(['/api/v1/namespaces', '/api/v1/pods', '/api/v1/services', '/apis/discovery.k8s.io/v1/endpointslices']);
    for (const w of watches) {
      expect(w.query.allowWatchBookmarks).to.equal('true');
      expect(w.query.resourceVersion).to.equal(listRv);
      const t = Number(w.query.timeoutSeconds);
      expect(t).to.be.at.least(300).and.below(600);
    }

    const d = src.describe();
    for (const k of KINDS) expect(d[k], k).to.equal('watching, synced yes');
    expect(d.endpointsApi).to.match(/EndpointSlices/);
    // One line per list, none per object.
    expect(env.logs.filter((l) => l.includes('list done'))).to.have.length(4);
    expect(env.logs.filter((l) => l.startsWith('warn') || l.startsWith('error'))).to.deep.equal([]);
  });

  it('applies adds, changes and deletes of every kind within 100 ms', async () => {
    const env = await setup();
    await synced(env);
    const { api, sink } = env;
    const worst: number[] = [];
    const timed = async (what: string, change: () => void, cond: () => boolean): Promise<void> => {
      change();
      worst.push(await until(cond, 1000, what));
    };
    await timed('service add', () => api.upsert('services', service('default', 'new', { clusterIP: '10.0.0.99' })), () => sink.has('services', 'default/new'));
    await timed(
      'service modify',
      () => api.upsert('services', service('default', 'new', { clusterIP: '10.0.0.98' })),
      () => sink.svc('default/new')?.clusterIPs[0] === '10.0.0.98',
    );
    await timed('service delete', () => api.remove('services', 'default', 'new'), () => !sink.has('services', 'default/new'));
    await timed(
      'slice modify',
      () => api.upsert('endpointslices', endpointSlice('default', 'web-abc', 'web', 'IPv4', [ep('10.1.0.7')], [])),
      () => sink.slice('default/web-abc')?.endpoints[0]?.addresses[0] === '10.1.0.7',
    );
    await timed('slice delete', () => api.remove('endpointslices', 'default', 'web-abc'), () => !sink.has('endpointslices', 'default/web-abc'));
    await timed('namespace add', () => api.upsert('namespaces', namespace('staging')), () => sink.has('namespaces', 'staging'));
    await timed('namespace delete', () => api.remove('namespaces', undefined, 'prod'), () => !sink.has('namespaces', 'prod'));
    await timed('pod add', () => api.upsert('pods', pod('default', 'web-3', '10.1.0.3')), () => sink.has('pods', 'default/web-3'));
    await timed('pod delete', () => api.remove('pods', 'default', 'web-1'), () => !sink.has('pods', 'default/web-1'));
    // A slice that loses its service label is no longer ours: removed.
    const unlabeled = endpointSlice('default', 'db-xyz', 'db', 'IPv4', [], []);
    unlabeled.metadata.labels = {};
    await timed('slice unlabeled', () => api.upsert('endpointslices', unlabeled), () => !sink.has('endpointslices', 'default/db-xyz'));
    expect(Math.max(...worst)).to.be.below(100);
    expect(env.src.events).to.be.at.least(10);
    expect(env.src.lastEventAt).to.be.within(Date.now() - 2000, Date.now());
    expect(env.src.relists).to.equal(0);
  });

  it('watches again at once when the server ends a watch cleanly', async () => {
    const env = await setup();
    await synced(env);
    const before = env.api.requests.length;
    env.api.endWatches();
    await until(() => env.api.watchCount() === 4 && env.api.requests.length >= before + 4, 2000, 'new watches');
    env.api.upsert('services', service('default', 'after-end', { clusterIP: '10.0.0.77' }));
    await until(() => env.sink.has('services', 'default/after-end'), 1000, 'event after clean end');
    expect(env.src.watchRestarts).to.equal(4);
    expect(env.src.relists).to.equal(0);
    // Re-watched from the last RV, not relisted.
    expect(env.api.requests.slice(before).every((r) => r.query.watch === 'true')).to.equal(true);
    expect(env.logs.filter((l) => l.startsWith('warn'))).to.deep.equal([]);
  });

  it('reconnects after a cut connection and replays what happened meanwhile', async () => {
    const env = await setup();
    await synced(env);
    env.api.cutWatches();
    // Changes while no watch is open: the re-watch from the last RV replays them.
    env.api.upsert('services', service('default', 'during-cut', { clusterIP: '10.0.0.66' }));
    env.api.remove('pods', 'default', 'web-1');
    await until(() => env.sink.has('services', 'default/during-cut') && !env.sink.has('pods', 'default/web-1'), 3000, 'replayed events');
    await until(() => env.api.watchCount() === 4, 2000, 'watches back');
    expect(env.src.relists).to.equal(0);
    expect(env.src.watchRestarts).to.equal(4);
    expect(env.logs.some((l) => l.startsWith('warn watch failed'))).to.equal(true);
    expect(env.logs.some((l) => l.startsWith('info recovered'))).to.equal(true);
    for (const k of KINDS) expect(env.sink.replaces[k]).to.equal(1);
  });

  it('relists after the watch history expired: deletions while away applied, the rest intact', async () => {
    const env = await setup();
    await synced(env);
    const { api, sink } = env;
    api.cutWatches();
    api.remove('services', 'default', 'db');
    api.remove('endpointslices', 'default', 'db-xyz');
    api.upsert('services', service('default', 'born-while-away', { clusterIP: '10.0.0.55' }));
    api.expireHistory();
    await until(() => KINDS.every((k) => sink.replaces[k] === 2), 4000, 'relists');
    expect(sink.has('services', 'default/db')).to.equal(false);
    expect(sink.has('endpointslices', 'default/db-xyz')).to.equal(false);
    expect(sink.has('services', 'default/born-while-away')).to.equal(true);
    expect(sink.sizes()).to.deep.equal({ services: 4, endpointslices: 2, namespaces: 3, pods: 2 });
    expect(sink.svc('default/web')?.clusterIPs).to.deep.equal(['10.0.0.10']);
    expect(env.src.relists).to.equal(4);
    expect(env.logs.filter((l) => l.includes('watch history expired'))).to.have.length(4);
    await until(() => api.watchCount() === 4, 2000, 'watching again');
    api.upsert('services', service('default', 'after-relist', { clusterIP: '10.0.0.54' }));
    await until(() => sink.has('services', 'default/after-relist'), 1000, 'event after relist');
  });

  it('recovers from HTTP 500 on list and on watch, and relists on HTTP 410 on watch', async () => {
    const env = await setup({ start: false });
    const { api, sink, src } = env;
    api.failNext('list', 'services', 500, 2);
    src.start(sink);
    await synced(env);
    expect(env.logs.filter((l) => l.startsWith('warn list failed') && l.includes('"kind":"services"'))).to.have.length(2);
    expect(env.logs.some((l) => l.includes('HTTP 500'))).to.equal(true);
    expect(sink.replaces.services).to.equal(1);

    api.failNext('watch', 'services', 500, 2);
    api.endWatches();
    await until(() => env.logs.filter((l) => l.startsWith('warn watch failed')).length === 2, 3000, 'two failed watches');
    await until(() => api.watchCount() === 4, 3000, 'watching again');
    api.upsert('services', service('default', 'after-500', { clusterIP: '10.0.0.44' }));
    await until(() => sink.has('services', 'default/after-500'), 1000, 'event after 500s');
    expect(src.relists).to.equal(0);

    api.failNext('watch', 'endpointslices', 410, 1);
    api.endWatches();
    await until(() => sink.replaces.endpointslices === 2, 3000, 'relist after HTTP 410');
    expect(sink.replaces.services).to.equal(1);
    expect(src.relists).to.equal(1);
  });

  it('401 and 403: a warning with the status, the server message and what to check; backoff, then recovery', async () => {
    const env = await setup({ start: false, tuning: { backoffInitialMs: 40, backoffMaxMs: 160 } });
    const { api, sink, src } = env;
    api.failNext('list', 'services', 401, 3);
    src.start(sink);
    await synced(env);
    const fails = env.logs.filter((l) => l.includes('list failed, retrying') && l.includes('"kind":"services"'));
    expect(fails).to.have.length(3);
    expect(fails[0]).to.match(/^warn list failed, retrying .*"reason":"HTTP 401 Unauthorized: injected failure \(list services\): HTTP 401".*"hint":"the API server rejected our credentials/);
    const waits = fails.map((l) => Number(/"backoff_ms":(\d+)/.exec(l)![1]));
    // Equal jitter: 20-40, 40-80, 80-160 ms.
    expect(waits[0]).to.be.within(20, 40);
    expect(waits[1]).to.be.within(40, 80);
    expect(waits[2]).to.be.within(80, 160);
    expect(env.logs.some((l) => l.startsWith('info recovered') && l.includes('"kind":"services"'))).to.equal(true);

    api.failNext('watch', 'pods', 403, 2);
    api.endWatches();
    await until(() => env.logs.filter((l) => l.startsWith('warn watch failed') && l.includes('HTTP 403 Forbidden')).length === 2, 3000, 'two 403s');
    expect(env.logs.find((l) => l.includes('HTTP 403'))).to.include('"hint":"not allowed: the account needs list and watch');
    await until(() => api.watchCount() === 4, 3000, 'watching again');
    expect(src.relists).to.equal(0);
  });

  it('lists again from the start when a continue token expires between pages', async () => {
    const env = await setup({ start: false, tuning: { pageSize: 1 } });
    const { api, sink, src } = env;
    // Fail the first request that carries a continue token, as after a compaction mid-list.
    let armed = true;
    const push = api.requests.push.bind(api.requests);
    api.requests.push = (...entries) => {
      const e = entries[0];
      if (armed && e?.path === '/api/v1/services' && e.query.continue) {
        armed = false;
        api.failNext('list', 'services', 410, 1);
      }
      return push(...entries);
    };
    src.start(sink);
    await synced(env);
    expect(armed).to.equal(false);
    expect(sink.sizes().services).to.equal(4);
    expect(sink.replaces.services).to.equal(1);
    expect(env.logs.some((l) => l.includes('continue token expired'))).to.equal(true);
    const firstPages = api.requests.filter((r) => r.path === '/api/v1/services' && r.query.watch !== 'true' && !r.query.continue);
    expect(firstPages).to.have.length(2);
  });

  it('keeps every record through a 5 s API outage and catches up after it', async function () {
    this.timeout(20000);
    const env = await setup();
    await synced(env);
    const { api, sink, src } = env;
    const full = sink.sizes();
    const down = api.goDown(5000);
    // While down: changes, and history compacted, so catching up needs a relist.
    api.upsert('services', service('default', 'born-in-outage', { clusterIP: '10.0.0.33' }));
    api.upsert('services', service('default', 'web', { clusterIP: '10.0.0.10', ports: [{ name: 'http', port: 81, protocol: 'TCP' }] }));
    api.remove('services', 'prod', 'ext');
    api.remove('pods', 'default', 'web-2');
    api.expireHistory();
    const states = new Set<string>();
    let done = false;
    void down.then(() => (done = true));
    while (!done) {
      // Nothing is lost while the API is away.
      expect(sink.sizes()).to.deep.equal(full);
      expect(sink.svc('default/web')?.ports[0]?.port).to.equal(80);
      for (const v of Object.values(src.describe())) states.add(v.replace(/\d+ms/, 'Nms'));
      await delay(50);
    }
    expect([...states]).to.include('backoff Nms, synced yes');
    const back = await until(
      () => sink.svc('default/web')?.ports[0]?.port === 81 && sink.has('services', 'default/born-in-outage') && !sink.has('services', 'prod/ext') && !sink.has('pods', 'default/web-2'),
      4000,
      'caught up after the outage',
    );
    console.log(`      (caught up ${back} ms after the API came back)`);
    expect(sink.sizes()).to.deep.equal({ ...full, pods: full.pods - 1 });
    await until(() => api.watchCount() === 4, 3000, 'watching again');
    for (const [k, v] of Object.entries(src.describe())) if (k !== 'endpointsApi') expect(v, k).to.equal('watching, synced yes');
    // A few warnings per kind, not one per retry (backoff 100 ms .. 1 s here, ~10 retries each).
    const warns = env.logs.filter((l) => l.startsWith('warn')).length;
    const retries = env.logs.filter((l) => l.includes('failed, retrying')).length;
    expect(warns).to.be.within(4, 4 * 6);
    expect(retries).to.be.above(warns);
    console.log(`      (${retries} retries, ${warns} logged as warnings)`);
  });

  it('aborts a silent watch with the watchdog and watches again; bookmarks keep a quiet watch alive', async () => {
    const env = await setup({ tuning: { watchdogMs: 600 } });
    await synced(env);
    const { api, sink, src } = env;
    // Quiet but alive: bookmarks every 150 ms keep the watchdog at bay and advance the RV.
    api.bookmarkIntervalMs = 150;
    const eventsBefore = src.events;
    await delay(1000);
    expect(env.logs.filter((l) => l.includes('watchdog'))).to.deep.equal([]);
    expect(src.events - eventsBefore).to.be.at.least(4 * 3);
    expect(src.watchRestarts).to.equal(0);

    // Silent streams: nothing, not even bookmarks.
    api.silentWatches = true;
    api.endWatches();
    await until(() => api.watchCount() === 4 && src.watchRestarts === 4, 2000, 'silent watches open');
    api.upsert('services', service('default', 'unheard', { clusterIP: '10.0.0.22' }));
    await delay(100);
    expect(sink.has('services', 'default/unheard')).to.equal(false);
    api.silentWatches = false;
    const ms = await until(() => sink.has('services', 'default/unheard'), 3000, 'watchdog reconnect');
    expect(ms).to.be.above(200);
    expect(env.logs.filter((l) => l.includes('watchdog: no event for 600 ms')).length).to.be.at.least(4);
    expect(src.relists).to.equal(0);
  });

  it('relists, logs and counts when a watch line cannot be decoded, so the change it carried is not lost', async () => {
    const env = await setup();
    await synced(env);
    const { api, sink, src } = env;
    // A line cut off mid-object: the add of "lost" never arrives in a readable form, and
    // the next event moves the resourceVersion past it.
    api.garbleNextEvent('services', 'not-json');
    api.upsert('services', service('default', 'lost', { clusterIP: '10.0.0.31' }));
    api.upsert('services', service('default', 'next', { clusterIP: '10.0.0.32' }));
    await until(() => sink.has('services', 'default/lost') && sink.has('services', 'default/next'), 3000, 'the lost service back');
    expect(src.counters().services!.undecodable).to.equal(1);
    expect(src.counters().services!.relists).to.equal(1);
    const warn = env.logs.filter((l) => l.startsWith('warn undecodable watch event, relisting'));
    expect(warn).to.have.length(1);
    expect(warn[0]).to.include('"kind":"services"').and.include('lost');

    // A well-formed event of a type no Kubernetes version sends: the same.
    api.garbleNextEvent('pods', 'unknown-type');
    api.upsert('pods', pod('default', 'web-9', '10.1.0.9'));
    await until(() => sink.has('pods', 'default/web-9'), 3000, 'the pod of the unknown event type');
    expect(src.counters().pods!.undecodable).to.equal(1);
    expect(src.counters().pods!.relists).to.equal(1);
    // Other kinds are not touched.
    expect(sink.replaces.namespaces).to.equal(1);
    // The metric, as /metrics reads it from the plugin.
    const samples = kubernetesSamples({ counts: {}, synced: [], invalid: [], perKind: src.counters() }, { server: 'dns://:53', zones: 'cluster.local.' });
    const undecodable = samples.filter((p) => p.family === 'clusterdns_kubernetes_watch_undecodable_total');
    expect(Object.fromEntries(undecodable.map((p) => [p.sample.labels.kind, p.sample.value]))).to.deep.equal({ services: 1, endpointslices: 0, namespaces: 0, pods: 1 });
    await until(() => api.watchCount() === 4, 2000, 'watching again');
  });

  it('aborts a watch silent for 3 bookmark intervals, without an explicit watchdog', async () => {
    const env = await setup({ tuning: { bookmarkIntervalMs: 200 } });
    await synced(env);
    const { api, sink, src } = env;
    // The server keeps its promise of a bookmark per interval: no watchdog.
    api.bookmarkIntervalMs = 200;
    await delay(1000);
    expect(env.logs.filter((l) => l.includes('watchdog'))).to.deep.equal([]);
    expect(src.watchRestarts).to.equal(0);

    api.silentWatches = true;
    api.endWatches();
    await until(() => api.watchCount() === 4 && src.watchRestarts === 4, 2000, 'silent watches open');
    api.silentWatches = false;
    api.upsert('services', service('default', 'unheard', { clusterIP: '10.0.0.22' }));
    // 600 ms of silence, backoff, a new watch: seconds, not the 5-10 min of timeoutSeconds + 30 s.
    await until(() => sink.has('services', 'default/unheard'), 4000, 'watchdog reconnect');
    expect(env.logs.filter((l) => l.includes('watchdog: no event for 600 ms')).length).to.be.at.least(4);
  });

  it('reads Retry-After as seconds or an HTTP date, capped at 5 min; absent, zero or junk leaves the backoff', () => {
    const now = Date.parse('2026-11-30T12:00:00Z');
    expect(parseRetryAfter('3', now)).to.equal(3000);
    expect(parseRetryAfter('Mon, 30 Nov 2026 12:00:10 GMT', now)).to.equal(10_000);
    expect(parseRetryAfter('86400', now)).to.equal(300_000);
    for (const v of [undefined, '', '0', '-1', 'soon', 'Mon, 30 Nov 2026 11:00:00 GMT']) expect(parseRetryAfter(v, now), String(v)).to.equal(undefined);
  });

  it('waits as long as Retry-After says after a 429 on list and on watch, not the shorter backoff', async function () {
    this.timeout(20000);
    const env = await setup({ start: false, tuning: { backoffInitialMs: 20, backoffMaxMs: 40 } });
    const { api, sink, src } = env;
    api.failNext('list', 'services', 429, 1, '1');
    src.start(sink);
    await synced(env);
    const lists = api.requests.filter((r) => r.path === '/api/v1/services' && r.query.watch !== 'true');
    expect(lists).to.have.length(2);
    expect(lists[1]!.at - lists[0]!.at).to.be.at.least(950);
    expect(env.logs.some((l) => l.startsWith('warn list failed') && l.includes('"retry_after_ms":1000') && l.includes('HTTP 429'))).to.equal(true);

    api.failNext('watch', 'namespaces', 429, 1, '2');
    const before = api.requests.length;
    api.endWatches();
    await until(() => api.requests.slice(before).filter((r) => r.path === '/api/v1/namespaces').length === 2, 5000, 'the watch after the 429');
    const watches = api.requests.slice(before).filter((r) => r.path === '/api/v1/namespaces');
    expect(watches[1]!.at - watches[0]!.at).to.be.at.least(1950);
    expect(src.relists).to.equal(0);
  });

  it('sends the label selector for services and endpoints, and follows objects in and out of it', async () => {
    const env = await setup({
      source: { labelSelector: 'app=dns' },
      seed: (api) => {
        seed(api);
        const s = endpointSlice('kube-system', 'kube-dns-2', 'kube-dns', 'IPv4', [ep('10.1.0.54')], []);
        s.metadata.labels = { ...s.metadata.labels, app: 'dns' };
        api.upsert('endpointslices', s);
      },
    });
    await synced(env);
    const { api, sink } = env;
    expect([...sink.maps.services.keys()]).to.deep.equal(['kube-system/kube-dns']);
    expect([...sink.maps.endpointslices.keys()]).to.deep.equal(['kube-system/kube-dns-2']);
    expect(sink.sizes().namespaces).to.equal(3);
    expect(sink.sizes().pods).to.equal(2);
    for (const r of api.requests.filter((q) => q.path.endsWith('/services') || q.path.endsWith('/endpointslices'))) expect(r.query.labelSelector).to.equal('app=dns');
    for (const r of api.requests.filter((q) => q.path.endsWith('/namespaces') || q.path.endsWith('/pods'))) expect(r.query.labelSelector).to.equal(undefined);
    // web starts matching, kube-dns stops: the watch turns these into ADDED / DELETED.
    api.upsert('services', service('default', 'web', { clusterIP: '10.0.0.10' }, { app: 'dns' }));
    api.upsert('services', service('kube-system', 'kube-dns', { clusterIP: '10.0.0.53' }, { app: 'other' }));
    await until(() => sink.has('services', 'default/web') && !sink.has('services', 'kube-system/kube-dns'), 1000, 'selector transitions');
  });

  it('falls back to v1 Endpoints when the cluster does not serve EndpointSlices', async () => {
    const env = await setup({
      api: { serveEndpointSlices: false },
      seed: (api) => {
        seed(api);
        api.upsert(
          'endpoints',
          endpoints('default', 'web', [
            {
              addresses: [{ ip: '10.1.0.1', targetRef: { kind: 'Pod', name: 'web-1' } }],
              notReadyAddresses: [{ ip: '10.1.0.2', hostname: 'web-2' }],
              ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
            },
          ]),
        );
      },
    });
    await synced(env);
    const { api, sink, src } = env;
    expect([...sink.maps.endpointslices.keys()]).to.deep.equal(['default/web']);
    expect(sink.slice('default/web')).to.deep.equal({
      namespace: 'default',
      name: 'web',
      service: 'web',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [
        { addresses: ['10.1.0.1'], ready: true, hostname: '', podName: 'web-1' },
        { addresses: ['10.1.0.2'], ready: false, hostname: 'web-2', podName: '' },
      ],
    });
    expect(src.describe().endpointsApi).to.match(/fallback/);
    expect(api.requests.some((r) => r.path === '/apis/discovery.k8s.io/v1/endpointslices')).to.equal(false);
    expect(api.requests.filter((r) => r.path === '/apis/discovery.k8s.io/v1')).to.have.length(1);
    api.upsert('endpoints', endpoints('kube-system', 'kube-dns', [{ addresses: [{ ip: '10.1.0.53' }], ports: [{ port: 53, protocol: 'UDP' }] }]));
    api.remove('endpoints', 'default', 'web');
    await until(() => sink.has('endpointslices', 'kube-system/kube-dns') && !sink.has('endpointslices', 'default/web'), 1000, 'endpoints events');
  });

  it('watches pods only with watchPods, and endpoints not at all with noendpoints', async () => {
    const env = await setup({ source: { watchPods: false, watchEndpoints: false } });
    await synced(env, ['services', 'namespaces']);
    const { api, sink, src } = env;
    await delay(100);
    expect([...sink.synced].sort()).to.deep.equal(['namespaces', 'services']);
    expect(sink.sizes()).to.deep.equal({ services: 4, endpointslices: 0, namespaces: 3, pods: 0 });
    expect(api.requests.some((r) => r.path.includes('pods') || r.path.includes('endpoint') || r.path.startsWith('/apis'))).to.equal(false);
    expect(Object.keys(src.describe()).sort()).to.deep.equal(['namespaces', 'services']);
  });

  it('stop() ends every request and timer, also while backing off from a down API', async () => {
    // After a tick: mocha arms this test's own timeout timer once the test function has returned its promise.
    await new Promise((r) => setImmediate(r));
    const baseline = process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPSocketWrap').length;
    const env = await setup();
    await synced(env);
    const { api, src } = env;
    const t0 = Date.now();
    await src.stop();
    expect(Date.now() - t0).to.be.below(200);
    await until(() => api.watchCount() === 0, 1000, 'server sees the watches closed');
    const n = api.requests.length;
    await delay(300);
    expect(api.requests.length).to.equal(n);
    for (const v of Object.values(src.describe())) expect(v).to.match(/^stopped|EndpointSlices/);
    expect(env.logs.filter((l) => l.startsWith('warn') || l.startsWith('error'))).to.deep.equal([]);

    // A second source stuck in backoff against a dead port stops at once too.
    const deadPort = api.url;
    await api.stop();
    const logs: string[] = [];
    const dead = new ApiSource({ endpoint: deadPort, watchPods: true, watchEndpoints: true }, (l, m, f) => logs.push(`${l} ${m} ${JSON.stringify(f)}`), { backoffInitialMs: 2000 });
    dead.start(new RecordingSink());
    await until(() => Object.values(dead.describe()).some((v) => v.startsWith('backoff')), 2000, 'backoff');
    const t1 = Date.now();
    await dead.stop();
    expect(Date.now() - t1).to.be.below(100);
    expect(logs.some((l) => l.includes('ECONNREFUSED'))).to.equal(true);

    await delay(20);
    // Count from a fresh macrotask (the delay's own timer is still counted inside its callback's continuation).
    await new Promise((r) => setImmediate(r));
    const left = process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPSocketWrap').length;
    expect(left).to.be.at.most(baseline);
  });

  it('takes the server from endpoint over the kubeconfig, and refuses an unknown context', async () => {
    const env = await setup({ start: false, source: { watchPods: false, watchEndpoints: false } });
    // A kubeconfig whose server is wrong (port 9 on localhost: nothing there).
    const file = path.join(tmp, 'kubeconfig-wrong-server');
    fs.writeFileSync(file, env.api.kubeconfigYaml().replace(env.api.url, 'http://127.0.0.1:9'));
    const logs: string[] = [];
    const src = new ApiSource({ kubeconfig: { path: file }, endpoint: env.api.url, watchPods: false, watchEndpoints: false }, (l, m, f) => logs.push(`${l} ${m} ${JSON.stringify(f)}`));
    cleanups.unshift(() => src.stop());
    src.start(env.sink);
    await synced(env, ['services', 'namespaces']);
    expect(src.server).to.equal(env.api.url);

    const bad = new ApiSource({ kubeconfig: { path: file, context: 'nope' }, watchPods: false, watchEndpoints: false }, (l, m, f) => logs.push(`${l} ${m} ${JSON.stringify(f)}`));
    bad.start(new RecordingSink());
    await until(() => logs.some((l) => l.includes('no context')), 2000, 'context error');
    await bad.stop();
    expect(bad.describe().api).to.match(/no context "nope"/);
  });

  it('a missing, unreadable or broken kubeconfig: one error line naming the file, retried quietly', async () => {
    fs.writeFileSync(path.join(tmp, 'broken.yaml'), 'apiVersion: v1\nclusters: [\n  - x: : :\n');
    fs.writeFileSync(path.join(tmp, 'empty.yaml'), '');
    const cases: Array<[string, RegExp]> = [
      [path.join(tmp, 'missing', 'kubeconfig'), /cannot read it: no such file or directory \(ENOENT\)$/],
      [tmp, /cannot read it: illegal operation on a directory \(EISDIR\)$/],
      [path.join(tmp, 'broken.yaml'), /not a valid kubeconfig \(missed comma between flow collection entries \(3:3\)\)$/],
      [path.join(tmp, 'empty.yaml'), /not a valid kubeconfig \(.*empty.*\)$/],
    ];
    for (const [file, re] of cases) {
      const logs: Array<{ level: string; msg: string; error: string }> = [];
      const src = new ApiSource({ kubeconfig: { path: file }, watchPods: false, watchEndpoints: false }, (level, msg, f) => logs.push({ level, msg, error: String(f?.error) }), {
        backoffInitialMs: 10,
        backoffMaxMs: 20,
      });
      src.start(new RecordingSink());
      await until(() => logs.length >= 6, 3000, `retries for ${file}`);
      await src.stop();
      expect(logs[0]!.msg).to.equal('cannot configure API access');
      expect(logs[0]!.error).to.equal(`kubeconfig ${file}: ${re.exec(logs[0]!.error)?.[0] ?? '(no match)'}`);
      expect(logs[0]!.error).to.match(re).and.not.include('\n');
      // Errors at the 1st, 2nd and 4th try; the others at debug.
      expect(logs.slice(0, 6).map((l) => l.level)).to.deep.equal(['error', 'error', 'debug', 'error', 'debug', 'debug']);
    }
  });

  it('reports a missing in-cluster environment instead of guessing a server', async () => {
    const saved = [process.env.KUBERNETES_SERVICE_HOST, process.env.KUBERNETES_SERVICE_PORT];
    delete process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_PORT;
    try {
      const logs: string[] = [];
      const src = new ApiSource({ watchPods: false, watchEndpoints: true }, (l, m, f) => logs.push(`${l} ${m} ${JSON.stringify(f)}`));
      src.start(new RecordingSink());
      await until(() => logs.length > 0, 2000, 'a log line');
      await src.stop();
      expect(logs[0]).to.match(/^error cannot configure API access .*not running in a cluster/);
      expect(src.describe().api).to.match(/not running in a cluster/);
    } finally {
      if (saved[0] !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved[0];
      if (saved[1] !== undefined) process.env.KUBERNETES_SERVICE_PORT = saved[1];
    }
  });

  // Figures, not assertions: KUBE_BENCH=1 npx mocha test/kubernetes-watch.test.ts -g sync
  if (process.env.KUBE_BENCH) {
    it('sync figures: 10,000 services + 100,000 endpoints in slices of 100', async function () {
      this.timeout(120000);
      const env = await setup({
        start: false,
        seed: (api) => {
          for (let n = 0; n < 100; n++) api.upsert('namespaces', namespace(`ns-${n}`));
          for (let i = 0; i < 10_000; i++) {
            const ns = `ns-${i % 100}`;
            api.upsert('services', service(ns, `svc-${i}`, { clusterIP: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }));
          }
          // 1,000 services with 100 endpoints each, one slice per service.
          for (let s = 0; s < 1000; s++) {
            const eps: unknown[] = [];
            for (let e = 0; e < 100; e++) {
              const n = s * 100 + e;
              eps.push(ep(`10.${128 + ((n >> 16) & 127)}.${(n >> 8) & 255}.${n & 255}`, `p-${n}`));
            }
            api.upsert('endpointslices', endpointSlice(`ns-${s % 100}`, `svc-${s}-x`, `svc-${s}`, 'IPv4', eps, [{ name: 'http', port: 8080, protocol: 'TCP' }]));
          }
        },
      });
      global.gc?.();
      const heap0 = process.memoryUsage().heapUsed;
      const t0 = performance.now();
      env.src.start(env.sink);
      await synced(env, ['services', 'endpointslices', 'namespaces', 'pods']);
      const ms = performance.now() - t0;
      global.gc?.();
      const heap1 = process.memoryUsage().heapUsed;
      const eps = [...env.sink.maps.endpointslices.values()].reduce((n: number, s) => n + (s as SliceRecord).endpoints.length, 0);
      console.log(
        `      synced ${env.sink.sizes().services} services, ${env.sink.sizes().endpointslices} slices / ${eps} endpoints in ${ms.toFixed(0)} ms; heap +${((heap1 - heap0) / 1048576).toFixed(1)} MiB (sink included)`,
      );
      for (const l of env.logs.filter((x) => x.includes('list done'))) console.log(`      ${l}`);
      // One event through the loaded source.
      const t1 = performance.now();
      env.api.upsert('services', service('ns-1', 'svc-late', { clusterIP: '10.200.0.1' }));
      await until(() => env.sink.has('services', 'ns-1/svc-late'), 2000, 'late event');
      console.log(`      one event after the big sync: ${(performance.now() - t1).toFixed(1)} ms`);
    });
  }
});
