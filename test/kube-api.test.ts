// Drives the fake Kubernetes API server (test/support/kube-api.ts) with the
// real @kubernetes/client-node, so the kubernetes plugin's tests can trust
// that what works against the fake works against the real protocol.

import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { FakeKubeApi, type KubeObject, endpointSlice, endpoints, namespace, pod, service } from './support/kube-api.js';
import { matchLabels, parseLabelSelector } from './support/kube-selectors.js';

interface WatchObject {
  kind?: string;
  apiVersion?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  code?: number;
  reason?: string;
  message?: string;
}
interface WatchEvent {
  type: string;
  object: WatchObject;
}
interface OpenWatch {
  events: WatchEvent[];
  /** resolves with the error passed to done (null for a clean end) */
  done: Promise<(Error & { statusCode?: number }) | null>;
  ctl: AbortController;
}

/** Poll until `cond` holds; fail after `ms`. */
async function until(cond: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: number | string; body?: unknown }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: number | string };
  }
  throw new Error('expected a rejection');
}

/** Plain GET without keep-alive, for checking the raw wire format. */
function rawGet(url: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

const names = (items: Array<{ metadata?: { name?: string } }>): string[] => items.map((i) => i.metadata?.name ?? '?');

describe('FakeKubeApi (driven by @kubernetes/client-node)', function () {
  this.timeout(10_000);

  let api: FakeKubeApi;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let watches: AbortController[];

  async function openWatch(p: string, query: Record<string, string | number | boolean | undefined> = {}): Promise<OpenWatch> {
    const events: WatchEvent[] = [];
    let finish!: (e: (Error & { statusCode?: number }) | null) => void;
    const done = new Promise<(Error & { statusCode?: number }) | null>((r) => (finish = r));
    const ctl = await new k8s.Watch(kc).watch(
      p,
      query,
      (type: string, object: WatchObject) => events.push({ type, object }),
      (err: unknown) => finish((err as Error | null | undefined) ?? null),
    );
    watches.push(ctl);
    return { events, done, ctl };
  }

  beforeEach(async () => {
    api = new FakeKubeApi({ historyLimit: 50 });
    await api.start(0);
    kc = new k8s.KubeConfig();
    kc.loadFromString(api.kubeconfigYaml());
    core = kc.makeApiClient(k8s.CoreV1Api);
    watches = [];
  });

  afterEach(async () => {
    for (const c of watches) c.abort();
    await api.stop();
  });

  describe('objects and discovery', () => {
    it('stamps resourceVersion, uid and creationTimestamp; keeps uid on update', () => {
      const rv0 = Number(api.resourceVersion());
      const a = api.upsert('services', service('default', 'a', { clusterIP: '10.0.0.1' }));
      expect(a.metadata.resourceVersion).to.equal(String(rv0 + 1));
      expect(a.metadata.uid).to.be.a('string').with.length.greaterThan(10);
      expect(a.metadata.creationTimestamp).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const input = service('default', 'a', { clusterIP: '10.0.0.2' });
      const b = api.upsert('services', input);
      expect(b.metadata.uid).to.equal(a.metadata.uid);
      expect(b.metadata.resourceVersion).to.equal(String(rv0 + 2));
      // The store holds a snapshot: mutating the input afterwards changes nothing.
      (input.spec as Record<string, unknown>).clusterIP = 'mutated';
      expect(api.get('services', 'default', 'a')?.spec).to.deep.equal({ clusterIP: '10.0.0.2' });
      expect(api.get('services', 'default', 'a')?.kind).to.equal('Service');
      api.remove('services', 'default', 'a');
      expect(api.get('services', 'default', 'a')).to.equal(undefined);
      expect(api.resourceVersion()).to.equal(String(rv0 + 3));
      expect(() => api.upsert('services', { metadata: { name: 'x' } })).to.throw(/namespace/);
    });

    it('serves discovery, version and the kubeconfig it hands out', async () => {
      const apis = await kc.makeApiClient(k8s.ApisApi).getAPIVersions();
      expect(apis.groups.map((g) => g.name)).to.include('discovery.k8s.io');
      const res = await kc.makeApiClient(k8s.DiscoveryV1Api).getAPIResources();
      expect(res.groupVersion).to.equal('discovery.k8s.io/v1');
      expect(res.resources.map((r) => r.name)).to.deep.equal(['endpointslices']);
      const coreRes = await core.getAPIResources();
      expect(coreRes.resources.map((r) => r.name).sort()).to.deep.equal(['endpoints', 'namespaces', 'pods', 'services']);
      const versions = await kc.makeApiClient(k8s.CoreApi).getAPIVersions();
      expect(versions.versions).to.deep.equal(['v1']);
      expect((await rawGet(`${api.url}/version`)).status).to.equal(200);

      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-kube-'));
      try {
        const file = api.writeKubeconfig(dir);
        const kc2 = new k8s.KubeConfig();
        kc2.loadFromFile(file);
        expect(kc2.getCurrentCluster()?.server).to.equal(api.url);
        expect(kc2.getCurrentUser()?.token).to.equal('fake-token');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('answers unknown paths and missing objects with a 404 Status', async () => {
      const r = await rawGet(`${api.url}/api/v1/widgets`);
      expect(r.status).to.equal(404);
      expect(JSON.parse(r.body)).to.include({ kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 });
      api.upsert('namespaces', namespace('kube-system'));
      const ns = await core.readNamespace({ name: 'kube-system' });
      expect(ns.metadata?.labels).to.deep.equal({ 'kubernetes.io/metadata.name': 'kube-system' });
      const err = await rejection(core.readNamespace({ name: 'nope' }));
      expect(err.code).to.equal(404);
    });

    it('with serveEndpointSlices=false: 404 for discovery.k8s.io, v1 Endpoints still served', async () => {
      const old = new FakeKubeApi({ serveEndpointSlices: false });
      await old.start();
      try {
        const kc2 = new k8s.KubeConfig();
        kc2.loadFromString(old.kubeconfigYaml());
        const apis = await kc2.makeApiClient(k8s.ApisApi).getAPIVersions();
        expect(apis.groups).to.deep.equal([]);
        const err = await rejection(kc2.makeApiClient(k8s.DiscoveryV1Api).getAPIResources());
        expect(err.code).to.equal(404);
        const err2 = await rejection(kc2.makeApiClient(k8s.DiscoveryV1Api).listEndpointSliceForAllNamespaces());
        expect(err2.code).to.equal(404);
        old.upsert('endpoints', endpoints('default', 'web', [{ addresses: [{ ip: '10.1.0.1' }], ports: [{ port: 80 }] }]));
        const list = await kc2.makeApiClient(k8s.CoreV1Api).listEndpointsForAllNamespaces();
        expect(list.items[0]?.subsets?.[0]?.addresses?.[0]?.ip).to.equal('10.1.0.1');
      } finally {
        await old.stop();
      }
    });
  });

  describe('list', () => {
    beforeEach(() => {
      api.upsert('services', service('default', 'web', { clusterIP: '10.0.0.10' }, { app: 'web', tier: 'front' }));
      api.upsert('services', service('default', 'db', { clusterIP: '10.0.0.11' }, { app: 'db', tier: 'back' }));
      api.upsert('services', service('other', 'cache', { clusterIP: '10.0.0.12' }, { app: 'cache' }));
      api.upsert('services', service('other', 'plain', { clusterIP: 'None' }));
    });

    it('lists all namespaces and one namespace, sorted, at the current RV', async () => {
      const all = await core.listServiceForAllNamespaces();
      expect(names(all.items)).to.deep.equal(['db', 'web', 'cache', 'plain']);
      expect(all.metadata?.resourceVersion).to.equal(api.resourceVersion());
      expect(all.items[1]?.spec?.clusterIP).to.equal('10.0.0.10');
      expect(all.items[1]?.metadata?.creationTimestamp).to.be.instanceOf(Date);
      const other = await core.listNamespacedService({ namespace: 'other' });
      expect(names(other.items)).to.deep.equal(['cache', 'plain']);
    });

    it('writes the real wire format: list kind, items without kind/apiVersion', async () => {
      const r = await rawGet(`${api.url}/api/v1/services`);
      expect(r.headers['content-type']).to.equal('application/json');
      const body = JSON.parse(r.body) as { kind: string; apiVersion: string; items: Array<Record<string, unknown>> };
      expect(body.kind).to.equal('ServiceList');
      expect(body.apiVersion).to.equal('v1');
      expect(body.items[0]).to.not.have.property('kind');
      expect(body.items[0]).to.not.have.property('apiVersion');
    });

    it('filters by label selector (equality, set-based, existence) and field selector', async () => {
      const sel = async (labelSelector?: string, fieldSelector?: string): Promise<string[]> =>
        names((await core.listServiceForAllNamespaces({ labelSelector, fieldSelector })).items);
      expect(await sel('app=web')).to.deep.equal(['web']);
      expect(await sel('app==db')).to.deep.equal(['db']);
      expect(await sel('app!=web')).to.deep.equal(['db', 'cache', 'plain']);
      expect(await sel('app in (web, cache)')).to.deep.equal(['web', 'cache']);
      expect(await sel('app notin (web)')).to.deep.equal(['db', 'cache', 'plain']);
      expect(await sel('tier')).to.deep.equal(['db', 'web']);
      expect(await sel('!tier')).to.deep.equal(['cache', 'plain']);
      expect(await sel('tier,app!=db')).to.deep.equal(['web']);
      expect(await sel(undefined, 'metadata.name=cache')).to.deep.equal(['cache']);
      expect(await sel(undefined, 'metadata.namespace!=default')).to.deep.equal(['cache', 'plain']);
      expect(await sel(undefined, 'spec.clusterIP=None')).to.deep.equal(['plain']);
      const err = await rejection(core.listServiceForAllNamespaces({ labelSelector: 'app in (web' }));
      expect(err.code).to.equal(400);
    });

    it('pages with limit/continue from a consistent snapshot', async () => {
      for (let i = 0; i < 21; i++) api.upsert('services', service('paged', `s${String(i).padStart(2, '0')}`, { clusterIP: `10.1.0.${i}` }));
      const p1 = await core.listNamespacedService({ namespace: 'paged', limit: 10 });
      expect(names(p1.items)).to.deep.equal(Array.from({ length: 10 }, (_, i) => `s0${i}`));
      expect(p1.metadata?._continue).to.be.a('string');
      expect(p1.metadata?.remainingItemCount).to.equal(11);
      const rv = p1.metadata?.resourceVersion;
      // Changes after the first page don't show up in later pages.
      api.upsert('services', service('paged', 's15', { clusterIP: '10.9.9.9' }));
      api.upsert('services', service('paged', 's99', { clusterIP: '10.9.9.10' }));
      api.remove('services', 'paged', 's20');
      const p2 = await core.listNamespacedService({ namespace: 'paged', limit: 10, _continue: p1.metadata?._continue });
      expect(p2.metadata?.resourceVersion).to.equal(rv);
      expect(names(p2.items)).to.deep.equal(Array.from({ length: 10 }, (_, i) => `s${10 + i}`));
      expect(p2.items[5]?.spec?.clusterIP).to.equal('10.1.0.15');
      const p3 = await core.listNamespacedService({ namespace: 'paged', limit: 10, _continue: p2.metadata?._continue });
      expect(names(p3.items)).to.deep.equal(['s20']);
      expect(p3.metadata?._continue).to.equal(undefined);
      // A fresh list sees the changes.
      const fresh = await core.listNamespacedService({ namespace: 'paged' });
      expect(fresh.items).to.have.length(21);
      expect(names(fresh.items).at(-1)).to.equal('s99');

      // Selector + limit: the continue token only appears if more matches follow.
      const sp = await core.listServiceForAllNamespaces({ labelSelector: 'tier', limit: 1 });
      expect(names(sp.items)).to.deep.equal(['db']);
      const sp2 = await core.listServiceForAllNamespaces({ labelSelector: 'tier', limit: 1, _continue: sp.metadata?._continue });
      expect(names(sp2.items)).to.deep.equal(['web']);
      expect(sp2.metadata?._continue).to.equal(undefined);

      // After a compaction the token is too old: 410.
      const q1 = await core.listServiceForAllNamespaces({ limit: 2 });
      api.expireHistory();
      const err = await rejection(core.listServiceForAllNamespaces({ limit: 2, _continue: q1.metadata?._continue }));
      expect(err.code).to.equal(410);
    });

    it('lists endpoint slices, namespaces and pods', async () => {
      const disc = kc.makeApiClient(k8s.DiscoveryV1Api);
      api.upsert(
        'endpointslices',
        endpointSlice('default', 'web-abc', 'web', 'IPv4', [{ addresses: ['10.2.0.1'], conditions: { ready: true } }], [{ name: 'http', port: 80, protocol: 'TCP' }]),
      );
      api.upsert('endpointslices', endpointSlice('default', 'db-abc', 'db', 'IPv6', [{ addresses: ['fd00::1'] }], []));
      const slices = await disc.listEndpointSliceForAllNamespaces({ labelSelector: 'kubernetes.io/service-name=web' });
      expect(names(slices.items)).to.deep.equal(['web-abc']);
      expect(slices.items[0]?.endpoints?.[0]?.addresses).to.deep.equal(['10.2.0.1']);
      const nsSlices = await disc.listNamespacedEndpointSlice({ namespace: 'default' });
      expect(names(nsSlices.items)).to.deep.equal(['db-abc', 'web-abc']);

      api.upsert('namespaces', namespace('default'));
      api.upsert('namespaces', namespace('prod', { env: 'prod' }));
      const nss = await core.listNamespace({ labelSelector: 'env=prod' });
      expect(names(nss.items)).to.deep.equal(['prod']);

      api.upsert('pods', pod('default', 'p1', ['10.3.0.1', 'fd00::3:1']));
      const pods = await core.listPodForAllNamespaces();
      expect(pods.items[0]?.status?.podIP).to.equal('10.3.0.1');
      expect(pods.items[0]?.status?.podIPs?.map((x) => x.ip)).to.deep.equal(['10.3.0.1', 'fd00::3:1']);
    });
  });

  describe('watch', () => {
    it('streams ADDED/MODIFIED/DELETED with their resourceVersions as chunked JSON lines', async () => {
      api.upsert('services', service('default', 'pre', {}));
      const list = await core.listServiceForAllNamespaces();
      const w = await openWatch('/api/v1/services', { resourceVersion: list.metadata?.resourceVersion });
      expect(api.watchCount('services')).to.equal(1);
      expect(api.watchCount()).to.equal(1);
      const a = api.upsert('services', service('default', 'a', { clusterIP: '10.0.0.1' }));
      api.upsert('services', service('default', 'a', { clusterIP: '10.0.0.2' }));
      api.remove('services', 'default', 'a');
      await until(() => w.events.length === 3, 3000, '3 events');
      expect(w.events.map((e) => e.type)).to.deep.equal(['ADDED', 'MODIFIED', 'DELETED']);
      expect(w.events[0]?.object.kind).to.equal('Service');
      expect(w.events[0]?.object.apiVersion).to.equal('v1');
      expect(w.events[0]?.object.metadata?.resourceVersion).to.equal(a.metadata.resourceVersion);
      expect(w.events[1]?.object.spec?.clusterIP).to.equal('10.0.0.2');
      // DELETED carries the last state at the deletion's RV.
      expect(w.events[2]?.object.spec?.clusterIP).to.equal('10.0.0.2');
      expect(w.events[2]?.object.metadata?.resourceVersion).to.equal(api.resourceVersion());

      const raw = api.requests.at(-1)!;
      expect(raw.path).to.equal('/api/v1/services');
      expect(raw.query).to.include({ watch: 'true', resourceVersion: list.metadata?.resourceVersion });
    });

    it('sends the wire format: 200, chunked, application/json, one event per line', async () => {
      api.upsert('namespaces', namespace('default'));
      const r = await new Promise<{ headers: http.IncomingHttpHeaders; first: string; req: http.ClientRequest }>((resolve, reject) => {
        const req = http.get(`${api.url}/api/v1/namespaces?watch=1`, { agent: false }, (res) => {
          res.setEncoding('utf8');
          let buf = '';
          res.on('data', (c: string) => {
            buf += c;
            if (buf.includes('\n')) resolve({ headers: res.headers, first: buf, req });
          });
        });
        req.on('error', reject);
      });
      r.req.destroy();
      expect(r.headers['transfer-encoding']).to.equal('chunked');
      expect(r.headers['content-type']).to.equal('application/json');
      const ev = JSON.parse(r.first.split('\n')[0]!) as WatchEvent;
      expect(ev.type).to.equal('ADDED');
      expect(ev.object.kind).to.equal('Namespace');
      await until(() => api.watchCount() === 0, 3000, 'server to notice the closed watch');
    });

    it('RV "0" or unset starts with ADDED for everything; a namespaced watch sees only its namespace', async () => {
      api.upsert('services', service('default', 'a', {}));
      api.upsert('services', service('kube-system', 'dns', {}));
      const all = await openWatch('/api/v1/services', { resourceVersion: '0' });
      const nsw = await openWatch('/api/v1/namespaces/kube-system/services');
      await until(() => all.events.length === 2 && nsw.events.length === 1);
      expect(all.events.map((e) => `${e.type} ${e.object.metadata?.name}`)).to.deep.equal(['ADDED a', 'ADDED dns']);
      api.upsert('services', service('kube-system', 'metrics', {}));
      api.upsert('services', service('default', 'b', {}));
      await until(() => all.events.length === 4 && nsw.events.length === 2);
      expect(nsw.events.map((e) => e.object.metadata?.name)).to.deep.equal(['dns', 'metrics']);
    });

    it('resumes from an older RV by replaying recorded events', async () => {
      const rv = api.resourceVersion();
      api.upsert('services', service('default', 'a', {}));
      api.upsert('services', service('default', 'b', {}));
      api.upsert('pods', pod('default', 'p', '10.0.0.5')); // other kind: not replayed
      api.remove('services', 'default', 'a');
      const w = await openWatch('/api/v1/services', { resourceVersion: rv });
      await until(() => w.events.length === 3);
      expect(w.events.map((e) => `${e.type} ${e.object.metadata?.name}`)).to.deep.equal(['ADDED a', 'ADDED b', 'DELETED a']);
      api.upsert('services', service('default', 'c', {}));
      await until(() => w.events.length === 4);
    });

    it('with a label selector, turns MODIFIED into ADDED/DELETED when an object starts/stops matching', async () => {
      const rv = api.resourceVersion();
      const w = await openWatch('/api/v1/services', { resourceVersion: rv, labelSelector: 'app=web' });
      api.upsert('services', service('default', 's', { clusterIP: '1.1.1.1' }, { app: 'web' })); // ADDED
      api.upsert('services', service('default', 's', { clusterIP: '1.1.1.2' }, { app: 'web' })); // MODIFIED
      const moved = api.upsert('services', service('default', 's', { clusterIP: '1.1.1.3' }, { app: 'other' })); // -> DELETED
      api.upsert('services', service('default', 's', { clusterIP: '1.1.1.4' }, { app: 'other' })); // nothing
      api.upsert('services', service('default', 's', { clusterIP: '1.1.1.5' }, { app: 'web' })); // -> ADDED
      api.upsert('services', service('default', 'x', {}, { app: 'other' })); // nothing
      api.remove('services', 'default', 's'); // DELETED
      await until(() => w.events.length === 5);
      expect(w.events.map((e) => e.type)).to.deep.equal(['ADDED', 'MODIFIED', 'DELETED', 'ADDED', 'DELETED']);
      // The synthetic DELETED carries the previous (still matching) state at the new RV.
      expect(w.events[2]?.object.metadata?.labels).to.deep.equal({ app: 'web' });
      expect(w.events[2]?.object.spec?.clusterIP).to.equal('1.1.1.2');
      expect(w.events[2]?.object.metadata?.resourceVersion).to.equal(moved.metadata.resourceVersion);
      expect(w.events[3]?.object.spec?.clusterIP).to.equal('1.1.1.5');

      // The same transitions come out of a history replay.
      const replay = await openWatch('/api/v1/services', { resourceVersion: rv, labelSelector: 'app=web' });
      await until(() => replay.events.length === 5);
      expect(replay.events.map((e) => e.type)).to.deep.equal(['ADDED', 'MODIFIED', 'DELETED', 'ADDED', 'DELETED']);
    });

    it('sends BOOKMARK events when asked and bookmarkIntervalMs > 0', async () => {
      api.bookmarkIntervalMs = 30;
      const withBm = await openWatch('/apis/discovery.k8s.io/v1/endpointslices', { resourceVersion: api.resourceVersion(), allowWatchBookmarks: true });
      const without = await openWatch('/apis/discovery.k8s.io/v1/endpointslices', { resourceVersion: api.resourceVersion() });
      api.upsert('services', service('default', 'a', {})); // moves the global RV
      await until(() => withBm.events.filter((e) => e.type === 'BOOKMARK').length >= 2, 3000, 'bookmarks');
      const bm = withBm.events.find((e) => e.type === 'BOOKMARK' && e.object.metadata?.resourceVersion === api.resourceVersion());
      expect(bm?.object).to.deep.equal({ kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', metadata: { resourceVersion: api.resourceVersion() } });
      expect(without.events).to.deep.equal([]);
      api.bookmarkIntervalMs = 0; // also stops bookmarks on open watches
      const n = withBm.events.length;
      await new Promise((r) => setTimeout(r, 100));
      expect(withBm.events.length).to.equal(n);
    });

    it('sendInitialEvents=true ends the initial ADDED events with an initial-events-end BOOKMARK', async () => {
      api.upsert('pods', pod('default', 'p1', '10.0.0.1'));
      const w = await openWatch('/api/v1/pods', { sendInitialEvents: true, allowWatchBookmarks: true, resourceVersionMatch: 'NotOlderThan' });
      await until(() => w.events.length === 2);
      expect(w.events[1]?.type).to.equal('BOOKMARK');
      expect(w.events[1]?.object.metadata?.annotations).to.deep.equal({ 'k8s.io/initial-events-end': 'true' });
    });

    it('answers a watch from a compacted RV with an ERROR 410 event, then ends the stream', async () => {
      const rv = api.resourceVersion();
      api.upsert('services', service('default', 'a', {}));
      api.expireHistory();
      const w = await openWatch('/api/v1/services', { resourceVersion: rv });
      expect(await w.done).to.equal(null);
      expect(w.events).to.have.length(1);
      expect(w.events[0]?.type).to.equal('ERROR');
      expect(w.events[0]?.object).to.include({ kind: 'Status', status: 'Failure', reason: 'Expired', code: 410 });
      expect(w.events[0]?.object.message).to.match(/^too old resource version: \d+ \(\d+\)$/);
      // From the current RV it is fine.
      const ok = await openWatch('/api/v1/services', { resourceVersion: api.resourceVersion() });
      expect(api.watchCount('services')).to.equal(1);
      ok.ctl.abort();
    });

    it('expires history beyond historyLimit', async () => {
      const small = new FakeKubeApi({ historyLimit: 3 });
      await small.start();
      try {
        const kc2 = new k8s.KubeConfig();
        kc2.loadFromString(small.kubeconfigYaml());
        const rv0 = Number(small.resourceVersion());
        for (let i = 0; i < 5; i++) small.upsert('services', service('default', `s${i}`, {}));
        const seen = async (from: number): Promise<string[]> => {
          const ev: string[] = [];
          let finish!: () => void;
          const done = new Promise<void>((r) => (finish = r));
          const ctl = await new k8s.Watch(kc2).watch('/api/v1/services', { resourceVersion: from }, (t: string) => ev.push(t), () => finish());
          small.endWatches(); // the replay is written before the end
          await done;
          ctl.abort();
          return ev;
        };
        expect(await seen(rv0 + 2)).to.deep.equal(['ADDED', 'ADDED', 'ADDED']);
        expect(await seen(rv0 + 1)).to.deep.equal(['ERROR']);
      } finally {
        await small.stop();
      }
    });

    it('ends the stream after timeoutSeconds', async () => {
      const w = await openWatch('/api/v1/services', { resourceVersion: api.resourceVersion(), timeoutSeconds: 1 });
      const t0 = Date.now();
      expect(await w.done).to.equal(null);
      expect(Date.now() - t0).to.be.within(700, 2500);
      expect(api.watchCount()).to.equal(0);
    });

    it('silentWatches: headers but no events', async () => {
      api.silentWatches = true;
      const w = await openWatch('/api/v1/services', { resourceVersion: '0' });
      api.upsert('services', service('default', 'a', {}));
      await new Promise((r) => setTimeout(r, 100));
      expect(w.events).to.deep.equal([]);
      expect(api.watchCount('services')).to.equal(1);
      api.endWatches();
      expect(await w.done).to.equal(null);
    });

    it('watches a single object by name', async () => {
      const w = await openWatch('/api/v1/namespaces/default/services/a', {});
      api.upsert('services', service('default', 'b', {}));
      api.upsert('services', service('default', 'a', {}));
      await until(() => w.events.length === 1);
      expect(w.events[0]?.object.metadata?.name).to.equal('a');
    });
  });

  describe('faults', () => {
    it('failNext: the next list/watch requests fail with the given status', async () => {
      api.failNext('list', 'services', 500);
      const err = await rejection(core.listServiceForAllNamespaces());
      expect(err.code).to.equal(500);
      const body = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as Record<string, unknown>;
      expect(body).to.include({ kind: 'Status', code: 500, reason: 'InternalError' });
      expect((await core.listServiceForAllNamespaces()).items).to.deep.equal([]);

      api.failNext('list', '*', 503, 2);
      expect((await rejection(core.listPodForAllNamespaces())).code).to.equal(503);
      expect((await rejection(core.listNamespace())).code).to.equal(503);
      await core.listNamespace();

      api.failNext('watch', 'pods', 500); // another kind's watch is unaffected
      api.failNext('watch', 'services', 429);
      const w = await openWatch('/api/v1/services', {});
      const e = await w.done;
      expect(e?.statusCode).to.equal(429);
      const pw = await openWatch('/api/v1/pods', {});
      expect((await pw.done)?.statusCode).to.equal(500);
      const ok = await openWatch('/api/v1/services', {});
      expect(api.watchCount('services')).to.equal(1);
      ok.ctl.abort();
    });

    it('failNext with a Retry-After: the header goes out with the Status; 429 carries 1 s unless told', async () => {
      api.failNext('list', 'services', 429, 1, '7');
      const told = await rawGet(`${api.url}/api/v1/services`);
      expect(told.status).to.equal(429);
      expect(told.headers['retry-after']).to.equal('7');
      expect(JSON.parse(told.body)).to.include({ kind: 'Status', code: 429, reason: 'TooManyRequests' });
      api.failNext('watch', 'pods', 429);
      const dflt = await rawGet(`${api.url}/api/v1/pods?watch=true`);
      expect([dflt.status, dflt.headers['retry-after']]).to.deep.equal([429, '1']);
      api.failNext('list', 'pods', 500);
      expect((await rawGet(`${api.url}/api/v1/pods`)).headers['retry-after']).to.equal(undefined);
      expect(api.requests.at(-1)!.at).to.be.within(Date.now() - 5000, Date.now());
    });

    it('garbleNextEvent: open watches get one undecodable line (client-node drops it), history keeps the event', async () => {
      api.upsert('services', service('default', 'a', {}));
      const from = api.resourceVersion();
      const w = await openWatch('/api/v1/services', { resourceVersion: from });
      api.garbleNextEvent('services');
      api.upsert('services', service('default', 'lost', {}));
      api.garbleNextEvent('services', 'unknown-type');
      api.upsert('services', service('default', 'odd', {}));
      api.upsert('services', service('default', 'after', {}));
      await until(() => w.events.length >= 1, 2000, 'the event after the garbled ones');
      await new Promise((r) => setTimeout(r, 50));
      // client-node's Watch skips the line that is not JSON and passes the unknown type on.
      expect(w.events.map((e) => `${e.type} ${e.object.metadata?.name}`)).to.deep.equal(['PATCHED odd', 'ADDED after']);
      const replay = await openWatch('/api/v1/services', { resourceVersion: from });
      await until(() => replay.events.length === 3, 2000, 'replayed events');
      expect(replay.events.map((e) => `${e.type} ${e.object.metadata?.name}`)).to.deep.equal(['ADDED lost', 'ADDED odd', 'ADDED after']);
    });

    it('endWatches ends streams cleanly; cutWatches cuts them (client sees an error)', async () => {
      const a = await openWatch('/api/v1/services', {});
      const b = await openWatch('/api/v1/pods', {});
      expect(api.watchCount()).to.equal(2);
      api.endWatches();
      expect(await a.done).to.equal(null);
      expect(await b.done).to.equal(null);
      expect(api.watchCount()).to.equal(0);

      const c = await openWatch('/api/v1/services', {});
      api.upsert('services', service('default', 'a', {}));
      await until(() => c.events.length === 1);
      api.cutWatches();
      const err = await c.done;
      expect(err).to.be.instanceOf(Error);
      expect(api.watchCount()).to.equal(0);
    });

    it('goDown refuses connections, then listens again on the same port', async () => {
      const url = api.url;
      api.upsert('services', service('default', 'a', {}));
      const w = await openWatch('/api/v1/services', {});
      await until(() => w.events.length === 1);
      const back = api.goDown(300);
      expect(await w.done).to.be.instanceOf(Error);
      const err = await rejection(core.listServiceForAllNamespaces());
      // client-node 2 (undici): "fetch failed", the socket error is its cause.
      const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
      expect([err.message, (err as { code?: unknown }).code, cause?.code, cause?.message].map(String).join(' ')).to.match(/ECONNREFUSED/);
      await back;
      expect(api.url).to.equal(url);
      const list = await core.listServiceForAllNamespaces();
      expect(names(list.items)).to.deep.equal(['a']);
    });

    it('stop() while down cancels the restart', async () => {
      const back = api.goDown(5_000);
      await api.stop();
      await back; // resolves promptly instead of after 5 s
      expect((await rejection(rawGet(`${api.url}/api`))).message).to.match(/ECONNREFUSED/);
    });

    it('stop() ends open watches', async () => {
      const w = await openWatch('/api/v1/services', {});
      await api.stop();
      expect(await w.done).to.be.instanceOf(Error);
    });
  });

  describe('informer (makeInformer)', function () {
    this.timeout(15_000);
    it('adds, updates, deletes, and relists after a 410', async () => {
      api.upsert('services', service('default', 'a', { clusterIP: '10.0.0.1' }));
      const informer = k8s.makeInformer(kc, '/api/v1/services', () => core.listServiceForAllNamespaces());
      const log: string[] = [];
      informer.on('add', (o) => log.push(`add ${o.metadata?.name}`));
      informer.on('update', (o) => log.push(`update ${o.metadata?.name}`));
      informer.on('delete', (o) => log.push(`delete ${o.metadata?.name}`));
      const watchReqs = (): number => api.requests.filter((r) => r.query.watch === 'true').length;
      const listReqs = (): number => api.requests.filter((r) => r.path === '/api/v1/services' && !r.query.watch).length;
      await informer.start();
      await until(() => api.watchCount('services') === 1, 3000, 'informer watch');
      api.upsert('services', service('default', 'b', {}));
      api.upsert('services', service('default', 'a', { clusterIP: '10.0.0.2' }));
      api.remove('services', 'default', 'b');
      await until(() => log.length >= 4, 3000, 'informer events');
      expect(log).to.deep.equal(['add a', 'add b', 'update a', 'delete b']);

      // Miss some changes while the informer's watch is silent, compact, then
      // end the watch: it resumes from its old RV, gets ERROR 410 and relists.
      api.silentWatches = true;
      const w0 = watchReqs();
      api.endWatches();
      await until(() => watchReqs() === w0 + 1 && api.watchCount('services') === 1, 3000, 'silent re-watch');
      api.remove('services', 'default', 'a');
      api.upsert('services', service('default', 'c', {}));
      api.expireHistory();
      api.silentWatches = false;
      expect(listReqs()).to.equal(1);
      api.endWatches();
      // client-node 2's informer waits 1 s, then 2 s... before each re-watch that follows one
      // without events: here 1 s before the watch that gets the 410, 2 s before the relist.
      await until(() => log.length === 6 && api.watchCount('services') === 1, 8000, 'relist');
      expect(listReqs()).to.equal(2);
      expect(log.slice(4).sort()).to.deep.equal(['add c', 'delete a']);
      expect(informer.list().map((s) => s.metadata?.name)).to.deep.equal(['c']);
      await informer.stop();
    });
  });

  describe('scale', function () {
    this.timeout(60_000);
    it('holds 10,000 services + 100,000 endpoint slices and streams them', async () => {
      const t0 = Date.now();
      for (let s = 0; s < 10_000; s++) {
        const ns = `ns${s % 100}`;
        api.upsert('services', service(ns, `svc${s}`, { clusterIP: `10.${(s >> 8) & 255}.${s & 255}.1`, ports: [{ port: 80, protocol: 'TCP' }] }));
        for (let e = 0; e < 10; e++) {
          api.upsert(
            'endpointslices',
            endpointSlice(ns, `svc${s}-${e}`, `svc${s}`, 'IPv4', [{ addresses: [`10.200.${s & 255}.${e}`], conditions: { ready: true } }], [{ port: 80, protocol: 'TCP' }]),
          );
        }
      }
      const tLoad = Date.now() - t0;
      const t1 = Date.now();
      const r = await rawGet(`${api.url}/apis/discovery.k8s.io/v1/endpointslices`);
      const tList = Date.now() - t1;
      const list = JSON.parse(r.body) as { items: KubeObject[] };
      expect(list.items).to.have.length(100_000);

      // A watch from "0" gets all 10,000 services, then live events in order.
      const t2 = Date.now();
      const w = await openWatch('/api/v1/services', { resourceVersion: '0' });
      api.upsert('services', service('ns0', 'late', {}));
      await until(() => w.events.length === 10_001, 20_000, 'initial events');
      const tWatch = Date.now() - t2;
      expect(w.events.at(-1)?.object.metadata?.name).to.equal('late');

      // Paging through everything with limit=500.
      let cont: string | undefined;
      let n = 0;
      const t3 = Date.now();
      do {
        const page = await rawGet(`${api.url}/api/v1/services?limit=500${cont ? `&continue=${cont}` : ''}`);
        const body = JSON.parse(page.body) as { items: unknown[]; metadata: { continue?: string } };
        n += body.items.length;
        cont = body.metadata.continue;
      } while (cont);
      expect(n).to.equal(10_001);
      const tPage = Date.now() - t3;
      console.log(
        `      load ${tLoad} ms, list 100k slices ${tList} ms (${(r.body.length / 1e6).toFixed(1)} MB), ` +
          `watch 10k initial ${tWatch} ms, 21 pages ${tPage} ms`,
      );
    });
  });
});

describe('label selector parser', () => {
  const m = (sel: string, labels?: Record<string, string>): boolean => matchLabels(parseLabelSelector(sel), labels);
  it('parses and matches the real grammar', () => {
    expect(parseLabelSelector('a=b, c!=d,e in (x, y),f notin (z),g,!h')).to.deep.equal([
      { key: 'a', op: 'in', values: ['b'] },
      { key: 'c', op: 'notin', values: ['d'] },
      { key: 'e', op: 'in', values: ['x', 'y'] },
      { key: 'f', op: 'notin', values: ['z'] },
      { key: 'g', op: 'exists', values: [] },
      { key: 'h', op: 'doesnotexist', values: [] },
    ]);
    expect(m('', undefined)).to.equal(true);
    expect(m('a!=b', undefined)).to.equal(true);
    expect(m('a in (b)', undefined)).to.equal(false);
    expect(m('a=', { a: '' })).to.equal(true);
    expect(m('app.kubernetes.io/name=x', { 'app.kubernetes.io/name': 'x' })).to.equal(true);
    expect(m('n>3', { n: '4' })).to.equal(true);
    expect(m('n<3', { n: '4' })).to.equal(false);
    for (const bad of ['a in b', 'a in (b', '=b', 'a b', 'a,']) expect(() => parseLabelSelector(bad), bad).to.throw();
  });
});
