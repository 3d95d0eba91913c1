// The store: compact records from a Source, indexed for the questions DNS
// asks. It is the truth answers are derived from; every change bumps `gen`,
// which is how the answer memo (answer.ts) knows its entries are stale.
//
// Sources hand over the plain records of objects.ts; the store keeps its own
// compact form of them (the records are dropped):
//   Service   the ServiceRecord without labels (only the `labels` selector
//             reads them, once, on arrival); shared empty/interned arrays
//   Slice     one flat array of addresses (an endpoint with several
//             addresses gives several), plus per-address ready / hostname /
//             pod name arrays only when some address needs them (null when
//             all are ready, without hostname, or pod names are not used)
//   Pod       namespace, name, IPs
// Strings are shared where the same value recurs: namespace names, port lists.
//
// Indexes, keyed by exact strings (no walks over all services). Maps that
// usually hold one value per key hold the value itself, an array only when
// there are several (see addTo/removeFrom):
//   services      ns -> name -> Service (only those the `labels` selector admits)
//   slices        ns -> slice name -> Slice; groups ns -> service -> its slices
//   namespaces    name -> NamespaceRecord; a namespace holding a service
//                 exists even before its Namespace arrives
//   pods          ns -> name -> Pod, and IP -> pods
//   reverse       cluster IP -> services; endpoint IP -> slices holding it
//   views         "ns/svc" -> serving endpoints of the service, deduplicated
//                 across slices, with their DNS labels: built on demand,
//                 dropped when the service or one of its slices changes, and
//                 bounded (MAX_VIEW_ENTRIES endpoints over all cached views)
//
// A complete list arrives through a batch (beginReplace): each record is
// compacted as it comes, into a new table beside the current one, which is
// swapped in at commit. So a relist never exposes half a state, and the list
// never holds the plain records of a whole kind at once.

import { isValidName } from '../../dns/names.js';
import { log } from '../../log.js';
import type { Kind, NamespaceRecord, PodRecord, PortRecord, RecordOf, ReplaceBatch, ServiceRecord, SliceRecord, StoreSink } from './objects.js';
import { matchSelector, type LabelSelector } from './selector.js';

export interface StoreOptions {
  /** `endpoint_pod_names`: label endpoints by their pod's name. */
  endpointPodNames: boolean;
  /** `namespaces`: only these are exposed (null: all). */
  namespaces: ReadonlySet<string> | null;
  /** `namespace_labels`: only namespaces whose labels match are exposed. */
  namespaceLabels: LabelSelector | null;
  /** `labels`: only services whose labels match exist. */
  labels: LabelSelector | null;
  /** Kinds that must have completed a first list before the store is synced. */
  required: Kind[];
  /** `noendpoints`: endpoint slices are dropped on arrival (a source may still send them). */
  ignoreEndpoints?: boolean;
}

/** A service as the store keeps it: its record without the labels. */
export type Service = Readonly<Omit<ServiceRecord, 'labels' | 'clusterIPs' | 'ports'>> & {
  readonly clusterIPs: readonly string[];
  readonly ports: readonly PortRecord[];
};

/** An EndpointSlice (or legacy Endpoints) as the store keeps it. */
export interface Slice {
  readonly namespace: string;
  readonly name: string;
  readonly service: string;
  readonly ports: readonly PortRecord[];
  /** Every address of every endpoint, in order. */
  readonly ips: readonly string[];
  /** Per address, its endpoint's readiness; null: all ready. */
  readonly ready: readonly boolean[] | null;
  /** Per address, its endpoint's hostname; null: none has one. */
  readonly hostnames: readonly string[] | null;
  /** Per address, its endpoint's pod name; null: none, or `endpoint_pod_names` is off. */
  readonly podNames: readonly string[] | null;
}

export interface Pod {
  readonly namespace: string;
  readonly name: string;
  readonly ips: readonly string[];
}

/** One serving address of a service, with the label it answers to. */
export interface EndpointEntry {
  readonly ip: string;
  readonly v6: boolean;
  readonly label: string;
  /** Union of the ports of every slice listing this address. */
  readonly ports: readonly PortRecord[];
}

/** The serving endpoints of one service, deduplicated by IP, in slice order. */
export class ServiceView {
  private labels: Map<string, EndpointEntry[]> | undefined;

  constructor(readonly entries: readonly EndpointEntry[]) {}

  /** Endpoints answering to this label (built on the first call). */
  byLabel(label: string): readonly EndpointEntry[] | undefined {
    if (this.labels === undefined) {
      this.labels = new Map();
      for (const e of this.entries) {
        const list = this.labels.get(e.label);
        if (list) list.push(e); else this.labels.set(e.label, [e]);
      }
    }
    return this.labels.get(label);
  }
}

const EMPTY_VIEW = new ServiceView([]);
const NONE: readonly never[] = Object.freeze([]);
/** Endpoints kept over all cached views; the newest view is kept whatever its size. */
const MAX_VIEW_ENTRIES = 20_000;
/** Interning tables start over past this many distinct values (records keep theirs). */
const MAX_INTERNED = 10_000;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Service and namespace names become labels of answers: 1-63 octets, no dot (as the API enforces). */
const NAME_LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i;

/** A field of an object that the store refused to put on the wire. */
export type InvalidField = 'name' | 'namespace' | 'externalName' | 'hostname' | 'port';

const validPort = (p: number): boolean => Number.isInteger(p) && p >= 1 && p <= 65535;

/** The label an endpoint answers to under its service (CoreDNS's rules). */
export function endpointLabel(ip: string, hostname: string, podName: string, podNames: boolean): string {
  if (hostname !== '') return hostname;
  if (podNames && podName.length > 0 && podName.length < 64 && DNS_LABEL.test(podName)) return podName;
  return dashedIP(ip);
}

/** 10.0.0.1 -> 10-0-0-1; fd00::1 -> fd00--1; a leading or trailing '-' gets a '0'. */
export function dashedIP(ip: string): string {
  let s = ip.replace(/[.:]/g, '-');
  if (s.startsWith('-')) s = `0${s}`;
  if (s.endsWith('-')) s = `${s}0`;
  return s;
}

// ---- small containers -----------------------------------------------------

/** namespace -> name -> V, without a "ns/name" string per entry. */
class ByNs<V> {
  private readonly m = new Map<string, Map<string, V>>();
  size = 0;

  get(ns: string, name: string): V | undefined {
    return this.m.get(ns)?.get(name);
  }
  set(ns: string, name: string, v: V): void {
    let inner = this.m.get(ns);
    if (inner === undefined) { inner = new Map(); this.m.set(ns, inner); }
    const n = inner.size;
    inner.set(name, v);
    this.size += inner.size - n;
  }
  delete(ns: string, name: string): boolean {
    const inner = this.m.get(ns);
    if (inner === undefined || !inner.delete(name)) return false;
    this.size--;
    if (inner.size === 0) this.m.delete(ns);
    return true;
  }
  count(ns: string): number {
    return this.m.get(ns)?.size ?? 0;
  }
  *values(): IterableIterator<V> {
    for (const inner of this.m.values()) yield* inner.values();
  }
}

/** A value of a one-or-more map: V itself, or V[] when there are several. */
type Some<V> = V | V[];

function addTo<V extends object>(m: Map<string, Some<V>>, k: string, v: V): void {
  const cur = m.get(k);
  if (cur === undefined) m.set(k, v);
  else if (Array.isArray(cur)) { if (!cur.includes(v)) cur.push(v); }
  else if (cur !== v) m.set(k, [cur, v]);
}

function removeFrom<V extends object>(m: Map<string, Some<V>>, k: string, v: V): void {
  const cur = m.get(k);
  if (cur === undefined) return;
  if (!Array.isArray(cur)) {
    if (cur === v) m.delete(k);
    return;
  }
  const i = cur.indexOf(v);
  if (i < 0) return;
  cur.splice(i, 1);
  if (cur.length === 1) m.set(k, cur[0]!);
  else if (cur.length === 0) m.delete(k);
}

function each<V extends object>(s: Some<V> | undefined): readonly V[] {
  if (s === undefined) return NONE;
  return Array.isArray(s) ? s : [s];
}

function sameList<T>(a: readonly T[] | null, b: readonly T[] | null): boolean {
  if (a === b) return true;
  if (a === null || b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function samePorts(a: readonly PortRecord[], b: readonly PortRecord[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const p = a[i]!, q = b[i]!;
    if (p.name !== q.name || p.protocol !== q.protocol || p.port !== q.port) return false;
  }
  return true;
}

function sameService(a: Service, b: Service): boolean {
  return a.kind === b.kind && a.externalName === b.externalName && a.publishNotReadyAddresses === b.publishNotReadyAddresses
    && sameList(a.clusterIPs, b.clusterIPs) && samePorts(a.ports, b.ports);
}

function sameSlice(a: Slice, b: Slice): boolean {
  return a.service === b.service && samePorts(a.ports, b.ports) && sameList(a.ips, b.ips)
    && sameList(a.ready, b.ready) && sameList(a.hostnames, b.hostnames) && sameList(a.podNames, b.podNames);
}

function samePod(a: Pod, b: Pod): boolean {
  return sameList(a.ips, b.ips);
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

// ---- tables: one kind's records and indexes, swapped whole by a relist ------

class ServiceTable {
  readonly byName = new ByNs<Service>();
  readonly byIP = new Map<string, Some<Service>>();

  add(s: Service): void {
    const old = this.byName.get(s.namespace, s.name);
    if (old !== undefined) this.drop(old);
    this.byName.set(s.namespace, s.name, s);
    for (const ip of s.clusterIPs) addTo(this.byIP, ip, s);
  }
  drop(s: Service): void {
    this.byName.delete(s.namespace, s.name);
    for (const ip of s.clusterIPs) removeFrom(this.byIP, ip, s);
  }
  same(o: ServiceTable): boolean {
    if (this.byName.size !== o.byName.size) return false;
    for (const s of this.byName.values()) {
      const t = o.byName.get(s.namespace, s.name);
      if (t === undefined || !sameService(s, t)) return false;
    }
    return true;
  }
}

class SliceTable {
  readonly byName = new ByNs<Slice>();
  /** ns -> service -> its slices, in arrival order. */
  readonly groups = new ByNs<Some<Slice>>();
  readonly byIP = new Map<string, Some<Slice>>();

  add(s: Slice): void {
    const old = this.byName.get(s.namespace, s.name);
    if (old !== undefined) this.drop(old);
    this.byName.set(s.namespace, s.name, s);
    const g = this.groups.get(s.namespace, s.service);
    if (g === undefined) this.groups.set(s.namespace, s.service, s);
    else if (Array.isArray(g)) g.push(s);
    else this.groups.set(s.namespace, s.service, [g, s]);
    for (const ip of s.ips) addTo(this.byIP, ip, s);
  }
  drop(s: Slice): void {
    this.byName.delete(s.namespace, s.name);
    const g = this.groups.get(s.namespace, s.service);
    if (g === s) this.groups.delete(s.namespace, s.service);
    else if (Array.isArray(g)) {
      const i = g.indexOf(s);
      if (i >= 0) g.splice(i, 1);
      if (g.length === 1) this.groups.set(s.namespace, s.service, g[0]!);
    }
    for (const ip of s.ips) removeFrom(this.byIP, ip, s);
  }
  same(o: SliceTable): boolean {
    if (this.byName.size !== o.byName.size) return false;
    for (const s of this.byName.values()) {
      const t = o.byName.get(s.namespace, s.name);
      if (t === undefined || !sameSlice(s, t)) return false;
    }
    return true;
  }
}

class PodTable {
  readonly byName = new ByNs<Pod>();
  readonly byIP = new Map<string, Some<Pod>>();

  add(p: Pod): void {
    const old = this.byName.get(p.namespace, p.name);
    if (old !== undefined) this.drop(old);
    this.byName.set(p.namespace, p.name, p);
    for (const ip of p.ips) addTo(this.byIP, ip, p);
  }
  drop(p: Pod): void {
    this.byName.delete(p.namespace, p.name);
    for (const ip of p.ips) removeFrom(this.byIP, ip, p);
  }
  same(o: PodTable): boolean {
    if (this.byName.size !== o.byName.size) return false;
    for (const p of this.byName.values()) {
      const q = o.byName.get(p.namespace, p.name);
      if (q === undefined || !samePod(p, q)) return false;
    }
    return true;
  }
}

const NO_BATCH: ReplaceBatch<Kind> = { add: () => undefined, commit: () => undefined };

export class Store implements StoreSink {
  /** Bumped by every change that can alter an answer. */
  gen = 0;
  /** SOA serial: Unix seconds of the last change (as CoreDNS). */
  serial = Math.floor(Date.now() / 1000);

  private services = new ServiceTable();
  private slices = new SliceTable();
  private namespaces = new Map<string, NamespaceRecord>();
  private pods = new PodTable();
  /** LRU order: the most recently used view is last. */
  private views = new Map<string, ServiceView>();
  private viewEntries = 0;
  private syncedKinds = new Set<Kind>();
  private isSynced = false;
  private waiters: Array<() => void> = [];
  private nsNames = new Map<string, string>();
  private portLists = new Map<string, readonly PortRecord[]>();
  /** "kind/field" -> values dropped so far (clusterdns_kubernetes_invalid_fields_total). */
  private readonly invalid = new Map<string, number>();

  constructor(private readonly opts: StoreOptions) {
    if (opts.required.length === 0) this.isSynced = true;
  }

  // ---- StoreSink --------------------------------------------------------

  upsert<K extends Kind>(kind: K, rec: RecordOf<K>): void {
    switch (kind) {
      case 'services': this.upsertService(rec as ServiceRecord); break;
      case 'endpointslices': if (!this.opts.ignoreEndpoints) this.upsertSlice(rec as SliceRecord); break;
      case 'namespaces': this.upsertNamespace(rec as NamespaceRecord); break;
      case 'pods': this.upsertPod(rec as PodRecord); break;
    }
  }

  remove(kind: Kind, namespace: string, name: string): void {
    switch (kind) {
      case 'services': {
        const s = this.services.byName.get(namespace, name);
        if (s === undefined) return;
        this.services.drop(s);
        this.dropView(namespace, name);
        break;
      }
      case 'endpointslices': {
        const s = this.slices.byName.get(namespace, name);
        if (s === undefined) return;
        this.slices.drop(s);
        this.dropView(namespace, s.service);
        break;
      }
      case 'namespaces':
        if (!this.namespaces.delete(name)) return;
        break;
      case 'pods': {
        const p = this.pods.byName.get(namespace, name);
        if (p === undefined) return;
        this.pods.drop(p);
        break;
      }
    }
    this.changed();
  }

  replace<K extends Kind>(kind: K, recs: Array<RecordOf<K>>): void {
    const batch = this.beginReplace(kind);
    for (const r of recs) batch.add(r);
    batch.commit();
  }

  /**
   * A complete list in parts: records are compacted as they are added, into
   * tables beside the current ones; commit() swaps them in at once (a query
   * never sees half a relist). A batch never committed changes nothing.
   */
  beginReplace<K extends Kind>(kind: K): ReplaceBatch<K> {
    switch (kind) {
      case 'services': {
        const t = new ServiceTable();
        return this.batch<ServiceRecord>((r) => { const v = this.checkService(r); if (v !== null && this.admits(v)) t.add(this.compactService(v)); }, () => {
          const same = t.same(this.services);
          this.services = t;
          if (!same) { this.clearViews(); this.changed(); }
        }) as ReplaceBatch<K>;
      }
      case 'endpointslices': {
        if (this.opts.ignoreEndpoints) return NO_BATCH as ReplaceBatch<K>;
        const t = new SliceTable();
        return this.batch<SliceRecord>((r) => t.add(this.compactSlice(this.checkSlice(r))), () => {
          const same = t.same(this.slices);
          this.slices = t;
          if (!same) { this.clearViews(); this.changed(); }
        }) as ReplaceBatch<K>;
      }
      case 'namespaces': {
        const m = new Map<string, NamespaceRecord>();
        return this.batch<NamespaceRecord>((r) => m.set(r.name, r), () => {
          const old = this.namespaces;
          this.namespaces = m;
          if (!sameNamespaces(old, m)) this.changed();
        }) as ReplaceBatch<K>;
      }
      default: {
        const t = new PodTable();
        return this.batch<PodRecord>((r) => t.add(this.compactPod(r)), () => {
          const same = t.same(this.pods);
          this.pods = t;
          if (!same) this.changed();
        }) as ReplaceBatch<K>;
      }
    }
  }

  markSynced(kind: Kind): void {
    this.syncedKinds.add(kind);
    if (this.isSynced) return;
    if (this.opts.required.every((k) => this.syncedKinds.has(k))) {
      this.isSynced = true;
      this.changed();
      for (const w of this.waiters.splice(0)) w();
    }
  }

  // ---- state ------------------------------------------------------------

  /** Every required kind has completed a first full list (stays true after). */
  get synced(): boolean {
    return this.isSynced;
  }

  syncedKindsList(): Kind[] {
    return [...this.syncedKinds];
  }

  whenSynced(): Promise<void> {
    if (this.isSynced) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Fields dropped on arrival because they cannot go on the wire, per kind and field. */
  invalidCounts(): Array<{ kind: Kind; field: InvalidField; count: number }> {
    return [...this.invalid].map(([k, count]) => {
      const [kind, field] = k.split('/') as [Kind, InvalidField];
      return { kind, field, count };
    });
  }

  counts(): Record<string, number> {
    return { services: this.services.byName.size, endpointslices: this.slices.byName.size, namespaces: this.namespaces.size, pods: this.pods.byName.size };
  }

  // ---- queries (answer.ts) ---------------------------------------------

  /** The namespace exists (a Namespace, or a Service in it) and the options expose it. */
  namespaceExposed(ns: string): boolean {
    if (this.opts.namespaces !== null && !this.opts.namespaces.has(ns)) return false;
    const rec = this.namespaces.get(ns);
    if (this.opts.namespaceLabels !== null) return rec !== undefined && matchSelector(this.opts.namespaceLabels, rec.labels);
    return rec !== undefined || this.services.byName.count(ns) > 0;
  }

  service(ns: string, name: string): Service | undefined {
    return this.services.byName.get(ns, name);
  }

  /** Serving endpoints of a service: ready ones, or all with publishNotReadyAddresses. */
  view(svc: Service): ServiceView {
    const group = this.slices.groups.get(svc.namespace, svc.name);
    if (group === undefined) return EMPTY_VIEW;
    const k = `${svc.namespace}/${svc.name}`;
    let v = this.views.get(k);
    if (v !== undefined) {
      // Most recently used goes last.
      this.views.delete(k);
      this.views.set(k, v);
      return v;
    }
    v = this.buildView(svc, each(group));
    this.views.set(k, v);
    this.viewEntries += v.entries.length;
    for (const [ok, ov] of this.views) {
      if (this.viewEntries <= MAX_VIEW_ENTRIES || ov === v) break;
      this.views.delete(ok);
      this.viewEntries -= ov.entries.length;
    }
    return v;
  }

  /** The service has at least one serving endpoint (without building its view). */
  hasEndpoints(svc: Service): boolean {
    for (const s of each(this.slices.groups.get(svc.namespace, svc.name))) {
      for (let i = 0; i < s.ips.length; i++) if (this.serving(svc, s, i)) return true;
    }
    return false;
  }

  /** Services owning this cluster IP. */
  servicesAt(ip: string): readonly Service[] {
    return each(this.services.byIP.get(ip));
  }

  /** (service, label) of every serving endpoint with this IP, in any service that exists. */
  endpointsAt(ip: string): Array<{ svc: Service; label: string }> {
    const holders = each(this.slices.byIP.get(ip));
    const out: Array<{ svc: Service; label: string }> = [];
    for (const s of holders) {
      const svc = this.services.byName.get(s.namespace, s.service);
      if (svc === undefined) continue;
      const label = this.servingLabel(svc, ip, holders);
      if (label === null || out.some((o) => o.svc === svc && o.label === label)) continue;
      out.push({ svc, label });
    }
    return out;
  }

  /** Some pod in this namespace has this IP (`pods verified`). */
  podAt(ip: string, ns: string): boolean {
    return each(this.pods.byIP.get(ip)).some((p) => p.namespace === ns);
  }

  // ---- explain (read-only; see ClusterFacts in explain.ts) ---------------

  /** The Namespace object as received (its labels), if any. */
  namespaceRecord(ns: string): NamespaceRecord | undefined {
    return this.namespaces.get(ns);
  }

  /** Services kept in a namespace (only those the `labels` selector admits). */
  serviceCount(ns: string): number {
    return this.services.byName.count(ns);
  }

  /** Every slice kept for a service, serving endpoints or not, in arrival order. */
  slicesOf(ns: string, service: string): readonly Slice[] {
    return each(this.slices.groups.get(ns, service));
  }

  // ---- internals --------------------------------------------------------

  private batch<R>(add: (r: R) => void, commit: () => void): ReplaceBatch<Kind> {
    let done = false;
    return {
      add: (r) => { if (!done) add(r as R); },
      commit: () => { if (!done) { done = true; commit(); } },
    };
  }

  private changed(): void {
    this.gen++;
    this.serial = Math.max(this.serial, Math.floor(Date.now() / 1000));
  }

  private admits(svc: ServiceRecord): boolean {
    return this.opts.labels === null || matchSelector(this.opts.labels, svc.labels);
  }

  /** The address's label under `svc` if it serves there: its first serving occurrence, in slice order. */
  private servingLabel(svc: Service, ip: string, holders: readonly Slice[]): string | null {
    for (const s of each(this.slices.groups.get(svc.namespace, svc.name))) {
      if (!holders.includes(s)) continue;
      for (let i = 0; i < s.ips.length; i++) {
        if (s.ips[i] !== ip || !this.serving(svc, s, i)) continue;
        return endpointLabel(ip, s.hostnames?.[i] ?? '', s.podNames?.[i] ?? '', this.opts.endpointPodNames);
      }
    }
    return null;
  }

  private serving(svc: Service, s: Slice, i: number): boolean {
    return s.ready === null || s.ready[i] === true || svc.publishNotReadyAddresses;
  }

  private buildView(svc: Service, slices: readonly Slice[]): ServiceView {
    const byIP = new Map<string, EndpointEntry>();
    for (const s of slices) {
      for (let i = 0; i < s.ips.length; i++) {
        if (!this.serving(svc, s, i)) continue;
        const ip = s.ips[i]!;
        const e = byIP.get(ip);
        if (e === undefined) {
          byIP.set(ip, {
            ip,
            v6: ip.includes(':'),
            label: endpointLabel(ip, s.hostnames?.[i] ?? '', s.podNames?.[i] ?? '', this.opts.endpointPodNames),
            ports: s.ports,
          });
        } else if (e.ports !== s.ports) {
          const extra = s.ports.filter((p) => !e.ports.some((q) => q.name === p.name && q.protocol === p.protocol && q.port === p.port));
          if (extra.length > 0) byIP.set(ip, { ...e, ports: [...e.ports, ...extra] });
        }
      }
    }
    return byIP.size === 0 ? EMPTY_VIEW : new ServiceView([...byIP.values()]);
  }

  private dropView(ns: string, svc: string): void {
    const k = `${ns}/${svc}`;
    const v = this.views.get(k);
    if (v === undefined) return;
    this.views.delete(k);
    this.viewEntries -= v.entries.length;
  }

  private clearViews(): void {
    this.views.clear();
    this.viewEntries = 0;
  }

  private ns(name: string): string {
    const known = this.nsNames.get(name);
    if (known !== undefined) return known;
    if (this.nsNames.size >= MAX_INTERNED) this.nsNames.clear();
    this.nsNames.set(name, name);
    return name;
  }

  private ports(list: readonly PortRecord[]): readonly PortRecord[] {
    if (list.length === 0) return NONE;
    const k = JSON.stringify(list.map((p) => [p.port, p.protocol, p.name]));
    const known = this.portLists.get(k);
    if (known !== undefined) return known;
    if (this.portLists.size >= MAX_INTERNED) this.portLists.clear();
    const own = Object.freeze(list.map((p) => Object.freeze({ name: p.name, protocol: p.protocol, port: p.port })));
    this.portLists.set(k, own);
    return own;
  }

  private compactService(r: ServiceRecord): Service {
    return {
      namespace: this.ns(r.namespace),
      name: r.name,
      kind: r.kind,
      clusterIPs: r.clusterIPs.length === 0 ? NONE : r.clusterIPs.slice(),
      externalName: r.externalName,
      ports: this.ports(r.ports),
      publishNotReadyAddresses: r.publishNotReadyAddresses,
    };
  }

  private compactSlice(r: SliceRecord): Slice {
    let n = 0;
    for (const ep of r.endpoints) n += ep.addresses.length;
    const ips: string[] = n === 0 ? (NONE as never[]) : new Array<string>(n);
    let ready: boolean[] | null = null;
    let hostnames: string[] | null = null;
    let podNames: string[] | null = null;
    const wantPods = this.opts.endpointPodNames;
    let i = 0;
    for (const ep of r.endpoints) {
      for (const ip of ep.addresses) {
        ips[i] = ip;
        if (!ep.ready) ready ??= new Array<boolean>(n).fill(true);
        if (ready !== null) ready[i] = ep.ready;
        if (ep.hostname !== '') hostnames ??= new Array<string>(n).fill('');
        if (hostnames !== null) hostnames[i] = ep.hostname;
        if (wantPods && ep.podName !== '') podNames ??= new Array<string>(n).fill('');
        if (podNames !== null) podNames[i] = ep.podName;
        i++;
      }
    }
    return { namespace: this.ns(r.namespace), name: r.name, service: r.service, ports: this.ports(r.ports), ips, ready, hostnames, podNames };
  }

  private compactPod(r: PodRecord): Pod {
    return { namespace: this.ns(r.namespace), name: r.name, ips: r.ips.length === 0 ? NONE : r.ips.slice() };
  }

  private upsertService(rec: ServiceRecord): void {
    const r = this.checkService(rec);
    if (r === null) return;
    const old = this.services.byName.get(r.namespace, r.name);
    if (!this.admits(r)) {
      if (old !== undefined) this.remove('services', r.namespace, r.name);
      return;
    }
    const s = this.compactService(r);
    if (old !== undefined && sameService(old, s)) return;
    this.services.add(s);
    this.dropView(s.namespace, s.name);
    this.changed();
  }

  private upsertSlice(rec: SliceRecord): void {
    const r = this.checkSlice(rec);
    const old = this.slices.byName.get(r.namespace, r.name);
    const s = this.compactSlice(r);
    if (old !== undefined && sameSlice(old, s)) return;
    this.slices.add(s);
    if (old !== undefined && old.service !== s.service) this.dropView(old.namespace, old.service);
    this.dropView(s.namespace, s.service);
    this.changed();
  }

  // ---- what may reach the wire ------------------------------------------
  //
  // The API validates these fields, but manifests, old objects and broken
  // servers do not always: a 300-character ExternalName would become a name
  // longer than DNS allows, a 70-character hostname a label the encoder
  // refuses (SERVFAIL for the whole answer), port 70000 a wrong port. Such a
  // value is dropped here, once, with a warning and a count: a service with
  // a bad name is left out, a bad ExternalName makes the name NXDOMAIN, a
  // bad hostname falls back to the dashed IP, a bad port is not published.

  private checkService(r: ServiceRecord): ServiceRecord | null {
    if (!NAME_LABEL.test(r.name)) return this.reject('services', r, 'name', r.name);
    if (!NAME_LABEL.test(r.namespace)) return this.reject('services', r, 'namespace', r.namespace);
    let out = r;
    if (r.externalName !== '' && !isValidName(r.externalName)) {
      this.reject('services', r, 'externalName', r.externalName);
      out = { ...out, externalName: '' };
    }
    const ports = this.checkPorts('services', r, r.ports);
    return ports === r.ports ? out : { ...out, ports };
  }

  private checkSlice(r: SliceRecord): SliceRecord {
    let out = r;
    const ports = this.checkPorts('endpointslices', r, r.ports);
    if (ports !== r.ports) out = { ...out, ports };
    if (r.endpoints.some((e) => e.hostname !== '' && !DNS_LABEL.test(e.hostname))) {
      out = {
        ...out,
        endpoints: r.endpoints.map((e) => {
          if (e.hostname === '' || DNS_LABEL.test(e.hostname)) return e;
          this.reject('endpointslices', r, 'hostname', e.hostname);
          return { ...e, hostname: '' };
        }),
      };
    }
    return out;
  }

  private checkPorts(kind: Kind, r: { namespace: string; name: string }, ports: PortRecord[]): PortRecord[] {
    if (ports.every((p) => validPort(p.port))) return ports;
    return ports.filter((p) => validPort(p.port) || this.reject(kind, r, 'port', `${p.name || '(unnamed)'}=${p.port}`) !== null);
  }

  private reject(kind: Kind, r: { namespace: string; name: string }, field: InvalidField, value: string): null {
    const k = `${kind}/${field}`;
    this.invalid.set(k, (this.invalid.get(k) ?? 0) + 1);
    const shown = value.length > 80 ? `${value.slice(0, 80)}... (${value.length} characters)` : value;
    log('warn', 'kubernetes', `invalid ${field} dropped: it cannot go into a DNS answer`, { kind, object: `${r.namespace}/${r.name}`, value: shown });
    return null;
  }

  private upsertNamespace(r: NamespaceRecord): void {
    const old = this.namespaces.get(r.name);
    if (old !== undefined && sameLabels(old.labels, r.labels)) return;
    this.namespaces.set(r.name, r);
    this.changed();
  }

  private upsertPod(r: PodRecord): void {
    const old = this.pods.byName.get(r.namespace, r.name);
    const p = this.compactPod(r);
    if (old !== undefined && samePod(old, p)) return;
    this.pods.add(p);
    this.changed();
  }
}

function sameNamespaces(a: Map<string, NamespaceRecord>, b: Map<string, NamespaceRecord>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined || !sameLabels(v.labels, w.labels)) return false;
  }
  return true;
}
