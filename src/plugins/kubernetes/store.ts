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
// Strings are shared where the same value recurs: namespace names, port lists
// (store-compact.ts). Fields that cannot go on the wire are dropped first
// (store-check.ts).
//
// Indexes, keyed by exact strings (no walks over all services), one generic
// Table per kind (store-tables.ts). Maps that usually hold one value per key
// hold the value itself, an array only when there are several:
//   services      ns -> name -> Service (only those the `labels` selector admits)
//   slices        ns -> slice name -> Slice; groups ns -> service -> its slices
//   namespaces    name -> NamespaceRecord; a namespace holding a service
//                 exists even before its Namespace arrives
//   pods          ns -> name -> Pod, and IP -> pods
//   reverse       cluster IP -> services; endpoint IP -> slices holding it
//                 (IPv4 endpoints keyed per /24, see ipKey in store-tables.ts)
//   views         "ns/svc" -> serving endpoints of the service, deduplicated
//                 across slices, with their DNS labels: built on demand,
//                 dropped when the service or one of its slices changes, and
//                 bounded (store-views.ts)
//
// A complete list arrives through a batch (beginReplace): each record is
// compacted as it comes, into a new table beside the current one, which is
// swapped in at commit. So a relist never exposes half a state, and the list
// never holds the plain records of a whole kind at once.


import type { Kind, NamespaceRecord, PodRecord, RecordOf, ReplaceBatch, ServiceRecord, SliceRecord, StoreSink } from './objects.js';
import { log } from '../../log.js';
import { ProgrammingLatency } from './metrics.js';
import { matchSelector, type LabelSelector } from './selector.js';
import { FieldChecker, type InvalidField } from './store-check.js';
import { Compactor } from './store-compact.js';
import { PODS, SERVICES, SLICES, type Service, type Slice, type SliceIP, Table, each, ipKey, sameLabels, sliceIP } from './store-tables.js';
import { EMPTY_VIEW, ServiceView, ViewCache, buildView, labelAt, serving } from './store-views.js';

export type { InvalidField } from './store-check.js';
export type { Pod, Service, Slice } from './store-tables.js';
export { type EndpointEntry, ServiceView, dashedIP, endpointLabel } from './store-views.js';

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


const NO_BATCH: ReplaceBatch<Kind> = { add: () => undefined, commit: () => undefined };

export class Store implements StoreSink {
  /** Bumped by every change that can alter an answer. */
  gen = 0;
  /** SOA serial: Unix seconds of the last change (as CoreDNS). */
  serial = Math.floor(Date.now() / 1000);

  private services = new Table(SERVICES);
  private slices = new Table(SLICES);
  private namespaces = new Map<string, NamespaceRecord>();
  private pods = new Table(PODS);
  private readonly views = new ViewCache();
  private syncedKinds = new Set<Kind>();
  private isSynced = false;
  private waiters: Array<() => void> = [];
  private readonly compact: Compactor;
  private readonly check = new FieldChecker();
  /** coredns_kubernetes_dns_programming_duration_seconds (metrics.ts). */
  readonly programming = new ProgrammingLatency();

  constructor(private readonly opts: StoreOptions) {
    this.compact = new Compactor(opts.endpointPodNames);
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

  remove(kind: Kind, namespace: string, name: string, triggerTime?: number): void {
    switch (kind) {
      case 'services': {
        const s = this.services.byName.get(namespace, name);
        if (s === undefined) return;
        this.services.drop(s);
        this.views.drop(namespace, name);
        break;
      }
      case 'endpointslices': {
        const s = this.slices.byName.get(namespace, name);
        if (s === undefined) return;
        this.slices.drop(s);
        this.views.drop(namespace, s.service);
        this.changed();
        this.programmed(namespace, name, s.service, triggerTime);
        return;
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
        const t = new Table(SERVICES);
        return this.batch<ServiceRecord>((r) => { const v = this.check.service(r); if (v !== null && this.admits(v)) t.add(this.compact.service(v)); }, () => {
          const same = t.same(this.services);
          this.services = t;
          if (!same) { this.views.clear(); this.changed(); }
        }) as ReplaceBatch<K>;
      }
      case 'endpointslices': {
        if (this.opts.ignoreEndpoints) return NO_BATCH as ReplaceBatch<K>;
        const t = new Table(SLICES);
        const triggered: Array<Pick<SliceRecord, 'namespace' | 'name' | 'service' | 'triggerTime'>> = [];
        return this.batch<SliceRecord>((r) => {
          t.add(this.compact.slice(this.check.slice(r)));
          if (r.triggerTime !== undefined) triggered.push({ namespace: r.namespace, name: r.name, service: r.service, triggerTime: r.triggerTime });
        }, () => {
          const same = t.same(this.slices);
          this.slices = t;
          if (!same) { this.views.clear(); this.changed(); }
          // As CoreDNS's informer, which sees a list as one sync event per object.
          for (const r of triggered) this.programmed(r.namespace, r.name, r.service, r.triggerTime);
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
        const t = new Table(PODS);
        return this.batch<PodRecord>((r) => t.add(this.compact.pod(r)), () => {
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
    return this.check.counts();
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

  /** Every service the options admit, in no particular order (zone transfers walk them). */
  allServices(): Iterable<Service> {
    return this.services.byName.values();
  }

  service(ns: string, name: string): Service | undefined {
    return this.services.byName.get(ns, name);
  }

  /** Serving endpoints of a service: ready ones, or all with publishNotReadyAddresses. */
  view(svc: Service): ServiceView {
    const group = this.slices.groups.get(svc.namespace, svc.name);
    if (group === undefined) return EMPTY_VIEW;
    return this.views.get(svc.namespace, svc.name, () => buildView(svc, each(group), this.opts.endpointPodNames));
  }

  /** The service has at least one serving endpoint (without building its view). */
  hasEndpoints(svc: Service): boolean {
    for (const s of each(this.slices.groups.get(svc.namespace, svc.name))) {
      for (let i = 0; i < s.ips.length; i++) if (serving(svc, s, i)) return true;
    }
    return false;
  }

  /** Services owning this cluster IP. */
  servicesAt(ip: string): readonly Service[] {
    return each(this.services.byIP.get(ip));
  }

  /** (service, label) of every serving endpoint with this IP, in any service that exists. */
  endpointsAt(ip: string): Array<{ svc: Service; label: string }> {
    const addr = sliceIP(ip);
    // The key's slices hold an address near this one (IPv4: same /24): keep those holding this one.
    const holders = each(this.slices.byIP.get(ipKey(addr))).filter((s) => s.ips.includes(addr));
    const out: Array<{ svc: Service; label: string }> = [];
    for (const s of holders) {
      const svc = this.services.byName.get(s.namespace, s.service);
      if (svc === undefined) continue;
      const label = this.servingLabel(svc, ip, addr, holders);
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

  /** Namespace of the first pod with this IP (`pods verified`), as CoreDNS's PodIndex(ip)[0]. */
  podNamespaceAt(ip: string): string | undefined {
    return each(this.pods.byIP.get(ip))[0]?.namespace;
  }

  // ---- internals --------------------------------------------------------

  private batch<R>(add: (r: R) => void, commit: () => void): ReplaceBatch<Kind> {
    let done = false;
    return {
      add: (r) => { if (!done) add(r as R); },
      commit: () => { if (!done) { done = true; commit(); } },
    };
  }

  /** The address's label under `svc` if it serves there: its first serving occurrence, in slice order. */
  private servingLabel(svc: Service, ip: string, addr: SliceIP, holders: readonly Slice[]): string | null {
    for (const s of each(this.slices.groups.get(svc.namespace, svc.name))) {
      if (!holders.includes(s)) continue;
      const i = s.ips.findIndex((a, k) => a === addr && serving(svc, s, k));
      if (i >= 0) return labelAt(s, i, ip, this.opts.endpointPodNames);
    }
    return null;
  }

  private changed(): void {
    this.gen++;
    this.serial = Math.max(this.serial, Math.floor(Date.now() / 1000));
  }

  private admits(svc: ServiceRecord): boolean {
    return this.opts.labels === null || matchSelector(this.opts.labels, svc.labels);
  }

  private upsertService(rec: ServiceRecord): void {
    const r = this.check.service(rec);
    if (r === null) return;
    const old = this.services.byName.get(r.namespace, r.name);
    if (!this.admits(r)) {
      if (old !== undefined) this.remove('services', r.namespace, r.name);
      return;
    }
    const s = this.compact.service(r);
    if (old !== undefined && SERVICES.same(old, s)) return;
    this.services.add(s);
    this.views.drop(s.namespace, s.name);
    this.changed();
  }

  private upsertSlice(rec: SliceRecord): void {
    const r = this.check.slice(rec);
    const old = this.slices.byName.get(r.namespace, r.name);
    const s = this.compact.slice(r);
    if (old === undefined || !SLICES.same(old, s)) {
      this.slices.add(s);
      if (old !== undefined && old.service !== s.service) this.views.drop(old.namespace, old.service);
      this.views.drop(s.namespace, s.service);
      this.changed();
    }
    // Also when nothing DNS shows changed: CoreDNS records every applied update.
    this.programmed(r.namespace, r.name, r.service, r.triggerTime);
  }

  /**
   * A slice change is applied: from now on answers carry it. Timed from its
   * trigger time, when it has one and its service is known (CoreDNS's rules).
   */
  private programmed(ns: string, slice: string, service: string, triggerTime: number | undefined): void {
    if (triggerTime === undefined) return;
    if (Number.isNaN(triggerTime)) {
      log('warn', 'kubernetes', 'DNS programming latency cannot be calculated: last-change-trigger-time is not RFC 3339', { object: `${ns}/${slice}` });
      return;
    }
    const svc = this.services.byName.get(ns, service);
    if (svc === undefined) return;
    this.programming.record(svc.kind === 'Headless' ? 'headless_with_selector' : 'cluster_ip', triggerTime);
  }

  private upsertNamespace(r: NamespaceRecord): void {
    const old = this.namespaces.get(r.name);
    if (old !== undefined && sameLabels(old.labels, r.labels)) return;
    this.namespaces.set(r.name, r);
    this.changed();
  }

  private upsertPod(r: PodRecord): void {
    const old = this.pods.byName.get(r.namespace, r.name);
    const p = this.compact.pod(r);
    if (old !== undefined && PODS.same(old, p)) return;
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
