// A fake Kubernetes API server for tests and benchmarks.
//
// It speaks the real wire protocol (JSON lists, chunked newline-delimited
// watch streams, Status errors, discovery documents) over plain HTTP on
// 127.0.0.1, so the unmodified @kubernetes/client-node code runs against it,
// and it injects the faults a cluster DNS server must survive: failed
// requests, expired watch history, clean and abrupt watch ends, silent
// streams and an API server that goes away and comes back.
//
// Performance: the benchmark loads 10,000 services and 100,000 endpoint
// slices, so each object is serialized exactly once, when it is stored, and
// that JSON string *is* the stored state (immutable, so lists, watch replays
// and paging snapshots share it without copying). Lists and initial watch
// events are written in chunks with back-pressure instead of being built as
// one giant string.

import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import {
  SelectorError,
  fieldValue,
  matchLabels,
  parseFieldSelector,
  parseLabelSelector,
} from './kube-selectors.js';
import {
  ALL_KINDS, DISCOVERY_GROUP, type Entry, type FailRule, type Filter, HttpError, type HistoryEvent, KINDS, type KindState,
  type ListSnapshot, MAX_LOG, MAX_SNAPSHOTS, decodeContinue, encodeContinue, eventLine, fullJson, keyOf, lowerBound, lowerBoundRv, now,
  statusObject, withResourceVersion,
} from './kube-api-core.js';
import type { Kind, KubeObject } from './kube-objects.js';
import { WatchStream, pump } from './kube-watch-stream.js';

export { type Kind, type KubeObject, endpointSlice, endpoints, namespace, pod, service } from './kube-objects.js';

export interface FakeKubeApiOptions {
  /** Events kept per kind for watch resume; a watch from an older RV gets 410. Default 10,000. */
  historyLimit?: number;
  /** Default true; false = 404 for discovery.k8s.io so clients fall back to v1 Endpoints. */
  serveEndpointSlices?: boolean;
}

export interface RequestLogEntry {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Date.now() when the request arrived. */
  at: number;
}

/** How garbleNextEvent spoils an event line: cut off mid-object, or a type no client knows. */
export type Garble = 'not-json' | 'unknown-type';

export class FakeKubeApi {
  /** Log of the last 1,000 requests, oldest first. */
  readonly requests: RequestLogEntry[] = [];
  /** When true, watch streams opened from now on send headers but never any event. */
  silentWatches = false;

  private readonly historyLimit: number;
  private readonly serveEndpointSlices: boolean;
  private readonly kinds: Record<Kind, KindState>;
  private rv = 1;
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private port = 0;
  private failRules: FailRule[] = [];
  private readonly snapshots = new Map<string, ListSnapshot>();
  private snapshotSeq = 0;
  private bookmarkMs = 0;
  private readonly garbles = new Map<Kind, Garble>();
  /** Pending re-listen of goDown(): cancelled by stop(). */
  private downWait: { timer: NodeJS.Timeout; resolve: () => void } | undefined;

  constructor(opts: FakeKubeApiOptions = {}) {
    this.historyLimit = Math.max(1, opts.historyLimit ?? 10_000);
    this.serveEndpointSlices = opts.serveEndpointSlices ?? true;
    const kinds = {} as Record<Kind, KindState>;
    for (const k of ALL_KINDS) {
      const info = KINDS[k];
      kinds[k] = {
        name: k,
        info,
        head: `{"kind":"${info.kind}","apiVersion":"${info.apiVersion}",`,
        objects: new Map(),
        sorted: null,
        history: [],
        historyStart: 0,
        compactedRv: 0,
        watchers: new Set(),
      };
    }
    this.kinds = kinds;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Listen on 127.0.0.1 (port 0 = ephemeral); resolves with the port. */
  async start(port = 0): Promise<number> {
    if (this.server) throw new Error('FakeKubeApi already started');
    // requestTimeout 0: watch streams live as long as the test or benchmark wants.
    const server = http.createServer({ requestTimeout: 0 }, (req, res) => this.handle(req, res));
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server = server;
    await this.listen(port);
    return this.port;
  }

  /** Close the listener, end every watch and destroy every socket. */
  async stop(): Promise<void> {
    if (this.downWait) {
      clearTimeout(this.downWait.timer);
      this.downWait.resolve();
      this.downWait = undefined;
    }
    const server = this.server;
    this.server = undefined;
    if (server) await this.closeServer(server);
  }

  get url(): string {
    if (!this.port) throw new Error('FakeKubeApi not started');
    return `http://127.0.0.1:${this.port}`;
  }

  kubeconfigYaml(): string {
    // Plain http needs insecure-skip-tls-verify, or client-node refuses to connect.
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: fake',
      '  cluster:',
      `    server: ${this.url}`,
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: fake',
      '  user:',
      '    token: fake-token',
      'contexts:',
      '- name: fake',
      '  context:',
      '    cluster: fake',
      '    user: fake',
      '    namespace: default',
      'current-context: fake',
      '',
    ].join('\n');
  }

  writeKubeconfig(dir: string): string {
    const file = path.join(dir, 'kubeconfig');
    fs.writeFileSync(file, this.kubeconfigYaml());
    return file;
  }

  // --------------------------------------------------------------------- data

  /**
   * Add or replace an object (ADDED or MODIFIED event). The JSON stored is a
   * snapshot of `obj` now, so later mutations of `obj` don't leak into the
   * store. The returned object is a fresh top level + metadata with the
   * server-set fields; nested parts are shared with `obj`.
   */
  upsert(kind: Kind, obj: KubeObject): KubeObject {
    const st = this.kinds[kind];
    const info = st.info;
    const m = obj.metadata;
    if (!m || typeof m.name !== 'string' || !m.name) throw new Error(`upsert ${kind}: metadata.name is required`);
    let ns: string | undefined;
    if (info.namespaced) {
      if (!m.namespace) throw new Error(`upsert ${kind} ${m.name}: metadata.namespace is required`);
      ns = m.namespace;
    }
    const key = keyOf(ns, m.name);
    const prev = st.objects.get(key);
    const rv = ++this.rv;
    const uid = typeof m.uid === 'string' && m.uid ? m.uid : prev?.uid ?? randomUUID();
    const created = typeof m.creationTimestamp === 'string' ? m.creationTimestamp : prev?.created ?? now();
    // Plain loops instead of object spread: this is the benchmark's load path
    // and spreading with extra keys measured ~10x slower here.
    const meta = Object.assign({}, m, { resourceVersion: String(rv), uid, creationTimestamp: created });
    if (!info.namespaced) delete meta.namespace;
    // metadata first, then the rest (spec, status...) in the caller's order.
    const stored: KubeObject = { metadata: meta };
    for (const k in obj) {
      if (k !== 'apiVersion' && k !== 'kind' && k !== 'metadata') stored[k] = obj[k];
    }
    const body = JSON.stringify(stored);
    const labels = m.labels ? Object.assign({}, m.labels) : undefined;
    const entry: Entry = { ns, name: m.name, key, uid, created, labels, body };
    st.objects.set(key, entry);
    st.sorted = null;
    this.record(st, prev ? { type: 'MODIFIED', rv, entry, prev } : { type: 'ADDED', rv, entry });
    return Object.assign({ apiVersion: info.apiVersion, kind: info.kind }, stored);
  }

  /** Delete an object (DELETED event carrying its last state). Unknown objects are ignored. */
  remove(kind: Kind, namespace: string | undefined, name: string): void {
    const st = this.kinds[kind];
    const key = keyOf(st.info.namespaced ? namespace : undefined, name);
    const prev = st.objects.get(key);
    if (!prev) return;
    st.objects.delete(key);
    st.sorted = null;
    const rv = ++this.rv;
    // Like the real server, the DELETED object carries the deletion's RV.
    const tomb: Entry = { ...prev, body: withResourceVersion(prev.body, rv) };
    this.record(st, { type: 'DELETED', rv, entry: tomb });
  }

  /** A fresh copy of the stored object (with kind/apiVersion), or undefined. */
  get(kind: Kind, namespace: string | undefined, name: string): KubeObject | undefined {
    const st = this.kinds[kind];
    const e = st.objects.get(keyOf(st.info.namespaced ? namespace : undefined, name));
    return e ? (JSON.parse(fullJson(st, e)) as KubeObject) : undefined;
  }

  resourceVersion(): string {
    return String(this.rv);
  }

  // ------------------------------------------------------------------- faults

  endWatches(): void {
    for (const w of this.allWatchers()) w.end();
  }

  cutWatches(): void {
    for (const w of this.allWatchers()) w.cut();
  }

  /**
   * Compact: drop all history, so a watch from any RV older than the current
   * one gets a 410 "Expired" ERROR event. Paging snapshots go too (their
   * continue tokens then get HTTP 410, as after an etcd compaction).
   */
  expireHistory(): void {
    for (const st of Object.values(this.kinds)) {
      st.history = [];
      st.historyStart = 0;
      st.compactedRv = this.rv;
    }
    this.snapshots.clear();
  }

  /**
   * The next `count` list (collection GET) or watch requests for `kind` ('*' =
   * any) answer HTTP `status` with a Status body. Rules are consumed in the
   * order they were added.
   */
  failNext(verb: 'list' | 'watch', kind: Kind | '*', status: number, count = 1, retryAfter?: string): void {
    if (count > 0) this.failRules.push({ verb, kind, status, remaining: count, retryAfter });
  }

  /**
   * The next event of `kind` reaches the watches open now as a line they
   * cannot decode (a proxy mangling the stream, a server bug); the events
   * after it are fine. History keeps the good event, so a relist or a
   * watch from an older RV still sees the change.
   */
  garbleNextEvent(kind: Kind, how: Garble = 'not-json'): void {
    this.garbles.set(kind, how);
  }

  /**
   * Close the listener and every socket (watches see a cut), then after `ms`
   * listen again on the same port. Resolves once listening again (or when
   * stop() cancels the restart).
   */
  async goDown(ms: number): Promise<void> {
    const server = this.server;
    if (!server) throw new Error('FakeKubeApi not started');
    if (this.downWait) throw new Error('FakeKubeApi is already down');
    const closed = this.closeServer(server);
    const waited = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.downWait = undefined;
        resolve(true);
      }, ms);
      this.downWait = { timer, resolve: () => resolve(false) };
    });
    await closed;
    if (waited && this.server === server) await this.listen(this.port);
  }

  /** BOOKMARK interval for watches that asked allowWatchBookmarks=true (0 = none). Applies to open watches too. */
  get bookmarkIntervalMs(): number {
    return this.bookmarkMs;
  }

  set bookmarkIntervalMs(ms: number) {
    this.bookmarkMs = ms;
    for (const w of this.allWatchers()) w.armBookmarks(ms, () => this.bookmarkLine(w.st));
  }

  // -------------------------------------------------------------- observation

  watchCount(kind?: Kind): number {
    if (kind) return this.kinds[kind].watchers.size;
    let n = 0;
    for (const st of Object.values(this.kinds)) n += st.watchers.size;
    return n;
  }

  // ---------------------------------------------------------------- internals

  private listen(port: number): Promise<void> {
    const server = this.server!;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        const addr = server.address();
        if (addr && typeof addr === 'object') this.port = addr.port;
        resolve();
      });
    });
  }

  private closeServer(server: http.Server): Promise<void> {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const w of this.allWatchers()) w.cut();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    return closed;
  }

  private allWatchers(): WatchStream[] {
    const out: WatchStream[] = [];
    for (const st of Object.values(this.kinds)) out.push(...st.watchers);
    return out;
  }

  private record(st: KindState, ev: HistoryEvent): void {
    st.history.push(ev);
    const live = st.history.length - st.historyStart;
    if (live > this.historyLimit) {
      st.compactedRv = st.history[st.historyStart]!.rv;
      st.historyStart++;
      // Amortised compaction of the dead prefix instead of an O(n) shift per event.
      if (st.historyStart > 1024 && st.historyStart * 2 > st.history.length) {
        st.history = st.history.slice(st.historyStart);
        st.historyStart = 0;
      }
    }
    const garble = this.garbles.get(st.name);
    this.garbles.delete(st.name);
    for (const w of st.watchers) {
      let line = this.lineFor(w, ev);
      if (line !== undefined && garble === 'not-json') line = `${line.slice(0, line.length >> 1)}\n`;
      else if (line !== undefined && garble === 'unknown-type') line = line.replace(/^\{"type":"[A-Z]+"/, '{"type":"PATCHED"');
      if (line !== undefined) w.send(line);
    }
  }

  private sortedEntries(st: KindState): Entry[] {
    if (!st.sorted) {
      // A new array each time: paging snapshots keep referencing the old one.
      st.sorted = [...st.objects.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    }
    return st.sorted;
  }

  private matches(st: KindState, f: Filter, e: Entry): boolean {
    if (f.ns !== undefined && e.ns !== f.ns) return false;
    if (f.labels.length && !matchLabels(f.labels, e.labels)) return false;
    if (f.fields.length) {
      let parsed: unknown;
      for (const r of f.fields) {
        let v: string;
        if (r.field === 'metadata.name') v = e.name;
        else if (r.field === 'metadata.namespace') v = e.ns ?? '';
        else v = fieldValue((parsed ??= JSON.parse(e.body)), r.field);
        if ((v === r.value) === r.negate) return false;
      }
    }
    return true;
  }

  /**
   * The line a watcher sees for an event. With a filter, a MODIFIED that
   * makes an object start matching is sent as ADDED and one that makes it
   * stop matching as DELETED with the previous state (at the new RV), as
   * the API server's watch cache does.
   */
  private lineFor(w: WatchStream, ev: HistoryEvent): string | undefined {
    const st = w.st;
    const f = w.filter;
    if (f.ns === undefined && !f.labels.length && !f.fields.length) {
      return (ev.line ??= eventLine(ev.type, fullJson(st, ev.entry)));
    }
    const cur = this.matches(st, f, ev.entry);
    if (ev.type !== 'MODIFIED') return cur ? (ev.line ??= eventLine(ev.type, fullJson(st, ev.entry))) : undefined;
    const was = this.matches(st, f, ev.prev!);
    if (cur) return was ? (ev.line ??= eventLine('MODIFIED', fullJson(st, ev.entry))) : eventLine('ADDED', fullJson(st, ev.entry));
    if (!was) return undefined;
    return eventLine('DELETED', st.head + withResourceVersion(ev.prev!.body, ev.rv).slice(1));
  }

  private bookmarkLine(st: KindState, annotations?: Record<string, string>): string {
    const metadata: Record<string, unknown> = { resourceVersion: String(this.rv) };
    if (annotations) metadata.annotations = annotations;
    return eventLine('BOOKMARK', st.head + JSON.stringify({ metadata }).slice(1));
  }

  private takeFailure(verb: 'list' | 'watch', kind: Kind): FailRule | undefined {
    const i = this.failRules.findIndex((r) => r.verb === verb && (r.kind === '*' || r.kind === kind));
    if (i < 0) return undefined;
    const r = this.failRules[i]!;
    if (--r.remaining <= 0) this.failRules.splice(i, 1);
    return r;
  }

  // ------------------------------------------------------------------ routing

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query, at: Date.now() });
    if (this.requests.length > MAX_LOG) this.requests.splice(0, this.requests.length - MAX_LOG);
    try {
      this.route(req, res, url.pathname, query);
    } catch (err) {
      if (err instanceof HttpError) this.sendStatus(res, err.code, err.message, err.reason, err.details, err.retryAfter);
      else if (err instanceof SelectorError) this.sendStatus(res, 400, err.message);
      else this.sendStatus(res, 500, String(err));
    }
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse, pathname: string, q: Record<string, string>): void {
    // Generated clients ask for e.g. "/apis/discovery.k8s.io/v1/" with a trailing slash.
    const segs = pathname.split('/').filter((s) => s !== '');
    const notFound = (): never => {
      throw new HttpError(404, 'the server could not find the requested resource', 'NotFound', {});
    };
    if (req.method !== 'GET') {
      throw new HttpError(405, `the server does not allow this method on the requested resource`);
    }
    const p = segs.join('/');
    switch (p) {
      case '':
        return this.sendJson(res, 200, { paths: ['/api', '/api/v1', '/apis', '/healthz', '/livez', '/readyz', '/version'] });
      case 'healthz':
      case 'livez':
      case 'readyz':
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('ok');
        return;
      case 'version':
        return this.sendJson(res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0-fake', platform: 'linux/amd64' });
      case 'api':
        return this.sendJson(res, 200, {
          kind: 'APIVersions',
          versions: ['v1'],
          serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${this.port}` }],
        });
      case 'api/v1':
        return this.sendJson(res, 200, this.resourceList(''));
      case 'apis':
        return this.sendJson(res, 200, {
          kind: 'APIGroupList',
          apiVersion: 'v1',
          groups: this.serveEndpointSlices ? [this.discoveryGroup()] : [],
        });
      case `apis/${DISCOVERY_GROUP}`:
        if (!this.serveEndpointSlices) return notFound();
        return this.sendJson(res, 200, { kind: 'APIGroup', apiVersion: 'v1', ...this.discoveryGroup() });
      case `apis/${DISCOVERY_GROUP}/v1`:
        if (!this.serveEndpointSlices) return notFound();
        return this.sendJson(res, 200, this.resourceList(DISCOVERY_GROUP));
    }

    // Resource paths: /api/v1/... (core) or /apis/discovery.k8s.io/v1/...
    let group: string;
    let rest: string[];
    if (segs[0] === 'api' && segs[1] === 'v1') {
      group = '';
      rest = segs.slice(2);
    } else if (segs[0] === 'apis' && segs[1] === DISCOVERY_GROUP && segs[2] === 'v1' && this.serveEndpointSlices) {
      group = DISCOVERY_GROUP;
      rest = segs.slice(3);
    } else {
      return notFound();
    }
    let watch = q.watch === 'true' || q.watch === '1';
    // Deprecated but still served: /api/v1/watch/services...
    if (rest[0] === 'watch') {
      watch = true;
      rest = rest.slice(1);
    }
    const kindOf = (resource: string | undefined): Kind => {
      const k = resource as Kind;
      if (resource === undefined || !Object.prototype.hasOwnProperty.call(KINDS, resource) || KINDS[k].group !== group) return notFound();
      return k;
    };

    let kind: Kind;
    let ns: string | undefined;
    let name: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      // /namespaces/{ns}/{resource}[/{name}]
      if (rest.length > 4) return notFound();
      kind = kindOf(rest[2]);
      if (!KINDS[kind].namespaced) return notFound();
      ns = rest[1];
      name = rest[3];
    } else if (rest.length === 1 || rest.length === 2) {
      // /{resource} across all namespaces, or /{cluster-scoped resource}/{name}
      kind = kindOf(rest[0]);
      if (rest.length === 2) {
        if (KINDS[kind].namespaced) return notFound();
        name = rest[1];
      }
    } else {
      return notFound();
    }

    const st = this.kinds[kind];
    if (name !== undefined) {
      if (watch) {
        // Watching a single object is a watch with a metadata.name selector.
        const fieldSel = q.fieldSelector ? `${q.fieldSelector},metadata.name=${name}` : `metadata.name=${name}`;
        return this.handleWatch(res, st, ns, { ...q, fieldSelector: fieldSel });
      }
      const e = st.objects.get(keyOf(ns, name));
      if (!e) throw new HttpError(404, `${kind} "${name}" not found`, 'NotFound', { name, kind });
      return this.sendRaw(res, 200, fullJson(st, e));
    }
    if (watch) return this.handleWatch(res, st, ns, q);
    return void this.handleList(res, st, ns, q).catch(() => res.destroy());
  }

  private discoveryGroup(): Record<string, unknown> {
    const v = { groupVersion: `${DISCOVERY_GROUP}/v1`, version: 'v1' };
    return { name: DISCOVERY_GROUP, versions: [v], preferredVersion: v };
  }

  private resourceList(group: string): Record<string, unknown> {
    const resources = ALL_KINDS.filter((k) => KINDS[k].group === group).map((k) => {
      const i = KINDS[k];
      const r: Record<string, unknown> = { name: k, singularName: i.singular, namespaced: i.namespaced, kind: i.kind, verbs: ['get', 'list', 'watch'] };
      if (i.shortNames) r.shortNames = i.shortNames;
      return r;
    });
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/v1` : 'v1', resources };
  }

  private parseFilter(ns: string | undefined, q: Record<string, string>): Filter {
    return { ns, labels: parseLabelSelector(q.labelSelector), fields: parseFieldSelector(q.fieldSelector) };
  }

  private failIfAsked(verb: 'list' | 'watch', kind: Kind): void {
    const r = this.takeFailure(verb, kind);
    if (r) throw new HttpError(r.status, `injected failure (${verb} ${kind}): HTTP ${r.status}`, undefined, undefined, r.retryAfter);
  }

  // --------------------------------------------------------------------- list

  private async handleList(res: http.ServerResponse, st: KindState, ns: string | undefined, q: Record<string, string>): Promise<void> {
    let entries: Entry[];
    let rv: number;
    let snapId: string | undefined;
    let pos = 0;
    try {
      this.failIfAsked('list', st.name);
      const filter = this.parseFilter(ns, q);
      const limit = q.limit ? Number.parseInt(q.limit, 10) : 0;
      if (!Number.isFinite(limit) || limit < 0) throw new HttpError(400, `invalid limit: ${q.limit}`);
      if (q.continue) {
        // The token pins the RV and position of the first page's snapshot, so
        // every page is consistent with that first page, as etcd's MVCC gives.
        const tok = decodeContinue(q.continue);
        const snap = this.snapshots.get(tok.id);
        if (!snap || snap.kind !== st.name) {
          throw new HttpError(
            410,
            'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
            'Expired',
          );
        }
        ({ entries, rv } = snap);
        snapId = tok.id;
        pos = tok.pos;
      } else {
        entries = this.sortedEntries(st);
        rv = this.rv;
      }
      // Keys are sorted "ns/name", so one namespace is a contiguous run.
      let end = entries.length;
      if (ns !== undefined) {
        const lo = lowerBound(entries, `${ns}/`);
        pos = Math.max(pos, lo);
        end = lowerBound(entries, `${ns}0`); // '0' is the character after '/'
      }
      const plain = !filter.labels.length && !filter.fields.length;
      const page: Entry[] = [];
      let i = pos;
      for (; i < end && (limit === 0 || page.length < limit); i++) {
        const e = entries[i]!;
        if (plain || this.matches(st, filter, e)) page.push(e);
      }
      // Only hand out a continue token if another matching item really follows.
      let more = false;
      if (limit > 0) {
        for (let j = i; j < end; j++) {
          if (plain || this.matches(st, filter, entries[j]!)) {
            more = true;
            i = j;
            break;
          }
        }
      }
      const meta: Record<string, unknown> = { resourceVersion: String(rv) };
      if (more) {
        if (!snapId) snapId = this.saveSnapshot({ kind: st.name, rv, entries });
        meta.continue = encodeContinue({ id: snapId, pos: i, rv });
        if (plain) meta.remainingItemCount = end - i;
      }
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
      res.write(`{"kind":"${st.info.listKind}","apiVersion":"${st.info.apiVersion}","metadata":${JSON.stringify(meta)},"items":[`);
      let k = 0;
      await pump(res, () => (k < page.length ? (k === 0 ? '' : ',') + page[k++]!.body : undefined));
      if (!res.destroyed) res.end(']}');
    } catch (err) {
      if (err instanceof HttpError) return this.sendStatus(res, err.code, err.message, err.reason, err.details, err.retryAfter);
      if (err instanceof SelectorError) return this.sendStatus(res, 400, err.message);
      throw err;
    }
  }

  private saveSnapshot(s: ListSnapshot): string {
    const id = String(++this.snapshotSeq);
    this.snapshots.set(id, s);
    // Bounded: the oldest tokens expire (410), like continue tokens past compaction.
    if (this.snapshots.size > MAX_SNAPSHOTS) this.snapshots.delete(this.snapshots.keys().next().value!);
    return id;
  }

  // -------------------------------------------------------------------- watch

  private handleWatch(res: http.ServerResponse, st: KindState, ns: string | undefined, q: Record<string, string>): void {
    this.failIfAsked('watch', st.name);
    const filter = this.parseFilter(ns, q);
    const rvParam = q.resourceVersion ?? '';
    let fromRv: number | undefined;
    if (rvParam !== '' && rvParam !== '0') {
      if (!/^\d+$/.test(rvParam)) throw new HttpError(400, `invalid resource version: ${rvParam}`);
      fromRv = Number(rvParam);
    }
    const timeout = q.timeoutSeconds ? Number(q.timeoutSeconds) : 0;

    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
    // Send the headers now: the client's watch() resolves on them, before any event.
    res.flushHeaders();

    if (fromRv !== undefined && fromRv < st.compactedRv && !this.silentWatches) {
      // The real server accepts the watch, then reports the expiry in-stream.
      const status = statusObject(410, `too old resource version: ${fromRv} (${st.compactedRv})`, 'Expired');
      res.end(eventLine('ERROR', JSON.stringify(status)));
      return;
    }

    const w = new WatchStream(st, res, filter, q.allowWatchBookmarks === 'true', this.silentWatches, (x) => st.watchers.delete(x));
    // Registered in the same tick the initial events are chosen, so no live
    // event is lost or duplicated between "initial" and "live".
    st.watchers.add(w);
    w.armBookmarks(this.bookmarkMs, () => this.bookmarkLine(st));
    if (timeout > 0) w.armTimeout(timeout);
    if (w.silent) return;

    let next: () => string | undefined;
    let initialEnd: string | undefined;
    if (fromRv === undefined) {
      // RV unset or "0": synthetic ADDED for everything that exists now.
      const entries = this.sortedEntries(st);
      let i = 0;
      next = () => {
        while (i < entries.length) {
          const e = entries[i++]!;
          if (this.matches(st, filter, e)) return eventLine('ADDED', fullJson(st, e));
        }
        return undefined;
      };
      if (q.sendInitialEvents === 'true' && w.bookmarks) {
        initialEnd = this.bookmarkLine(st, { 'k8s.io/initial-events-end': 'true' });
      }
    } else {
      // Replay what happened after fromRv from the retained history. A copy
      // of the references: the ring may be trimmed while this is written.
      const h = st.history;
      const events = h.slice(lowerBoundRv(h, st.historyStart, fromRv + 1));
      let i = 0;
      next = () => {
        while (i < events.length) {
          const line = this.lineFor(w, events[i++]!);
          if (line !== undefined) return line;
        }
        return undefined;
      };
    }
    pump(res, next).then(
      () => {
        if (w.closed) return;
        if (initialEnd) res.write(initialEnd);
        w.goLive();
      },
      () => w.cut(),
    );
  }

  // ---------------------------------------------------------------- responses

  private sendRaw(res: http.ServerResponse, code: number, json: string, headers: Record<string, string> = {}): void {
    res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', ...headers });
    res.end(json);
  }

  private sendJson(res: http.ServerResponse, code: number, body: unknown): void {
    this.sendRaw(res, code, JSON.stringify(body));
  }

  private sendStatus(res: http.ServerResponse, code: number, message: string, reason?: string, details?: Record<string, unknown>, retryAfter?: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // Like the API server's max-in-flight filter: 429 always carries Retry-After (1 s unless told).
    const after = retryAfter ?? (code === 429 ? '1' : undefined);
    const headers: Record<string, string> = after !== undefined ? { 'Retry-After': after } : {};
    this.sendRaw(res, code, JSON.stringify(statusObject(code, message, reason, details)), headers);
  }
}
