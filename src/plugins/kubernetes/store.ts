// The store: compact records from a Source, indexed for the questions DNS
// asks. It is the truth answers are derived from; every change bumps `gen`,
// which is how the answer memo (answer.ts) knows its entries are stale.
//
// Indexes, all keyed by exact strings (no walks over all services):
//   services      "ns/name" -> ServiceRecord (only those the `labels` selector admits)
//   slices        "ns/slice" -> SliceRecord, and grouped per service "ns/svc"
//   namespaces    name -> NamespaceRecord; services per namespace (a namespace
//                 holding a service exists even before its Namespace arrives)
//   pods          "ns/name" -> PodRecord, and IP -> pods
//   reverse       cluster IP -> services; endpoint IP -> slices holding it
//   views         "ns/svc" -> serving endpoints of the service, deduplicated
//                 across slices, with their DNS labels (built lazily, dropped
//                 when the service or one of its slices changes)

import type { Kind, NamespaceRecord, PodRecord, PortRecord, RecordOf, ServiceRecord, SliceRecord, StoreSink } from './objects.js';
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

/** One serving address of a service, with the label it answers to. */
export interface EndpointEntry {
  ip: string;
  v6: boolean;
  label: string;
  /** Union of the ports of every slice listing this address. */
  ports: PortRecord[];
}

export interface ServiceView {
  entries: EndpointEntry[];
  byLabel: Map<string, EndpointEntry[]>;
}

const EMPTY_VIEW: ServiceView = { entries: [], byLabel: new Map() };
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

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

const key = (ns: string, name: string): string => `${ns}/${name}`;

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class Store implements StoreSink {
  /** Bumped by every change that can alter an answer. */
  gen = 0;
  /** SOA serial: Unix seconds of the last change (as CoreDNS). */
  serial = Math.floor(Date.now() / 1000);

  private services = new Map<string, ServiceRecord>();
  private slices = new Map<string, SliceRecord>();
  private slicesBySvc = new Map<string, Set<SliceRecord>>();
  private namespaces = new Map<string, NamespaceRecord>();
  private servicesPerNs = new Map<string, number>();
  private pods = new Map<string, PodRecord>();
  private podsByIP = new Map<string, PodRecord[]>();
  private clusterIPs = new Map<string, Set<string>>();
  private endpointIPs = new Map<string, Set<SliceRecord>>();
  private views = new Map<string, ServiceView>();
  private syncedKinds = new Set<Kind>();
  private isSynced = false;
  private waiters: Array<() => void> = [];

  constructor(private readonly opts: StoreOptions) {
    if (opts.required.length === 0) this.isSynced = true;
  }

  // ---- StoreSink --------------------------------------------------------

  upsert<K extends Kind>(kind: K, rec: RecordOf<K>): void {
    if (kind === 'endpointslices' && this.opts.ignoreEndpoints) return;
    switch (kind) {
      case 'services': this.upsertService(rec as ServiceRecord); break;
      case 'endpointslices': this.upsertSlice(rec as SliceRecord); break;
      case 'namespaces': this.upsertNamespace(rec as NamespaceRecord); break;
      case 'pods': this.upsertPod(rec as PodRecord); break;
    }
  }

  remove(kind: Kind, namespace: string, name: string): void {
    switch (kind) {
      case 'services': if (this.dropService(key(namespace, name))) this.changed(); break;
      case 'endpointslices': if (this.dropSlice(key(namespace, name))) this.changed(); break;
      case 'namespaces': if (this.namespaces.delete(name)) this.changed(); break;
      case 'pods': if (this.dropPod(key(namespace, name))) this.changed(); break;
    }
  }

  replace<K extends Kind>(kind: K, recs: Array<RecordOf<K>>): void {
    if (kind === 'endpointslices' && this.opts.ignoreEndpoints) return;
    // Build the new state aside, then swap: a query never sees half a relist
    // (replace runs to completion synchronously, so no query interleaves).
    switch (kind) {
      case 'services': {
        const old = this.services;
        this.services = new Map();
        this.servicesPerNs = new Map();
        this.clusterIPs = new Map();
        for (const r of recs as ServiceRecord[]) this.addService(r);
        if (!sameMaps(old, this.services)) { this.views.clear(); this.changed(); }
        break;
      }
      case 'endpointslices': {
        const old = this.slices;
        this.slices = new Map();
        this.slicesBySvc = new Map();
        this.endpointIPs = new Map();
        for (const r of recs as SliceRecord[]) this.addSlice(r);
        if (!sameMaps(old, this.slices)) { this.views.clear(); this.changed(); }
        break;
      }
      case 'namespaces': {
        const old = this.namespaces;
        this.namespaces = new Map();
        for (const r of recs as NamespaceRecord[]) this.namespaces.set(r.name, r);
        if (!sameMaps(old, this.namespaces)) this.changed();
        break;
      }
      case 'pods': {
        const old = this.pods;
        this.pods = new Map();
        this.podsByIP = new Map();
        for (const r of recs as PodRecord[]) this.addPod(r);
        if (!sameMaps(old, this.pods)) this.changed();
        break;
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

  counts(): Record<string, number> {
    return { services: this.services.size, endpointslices: this.slices.size, namespaces: this.namespaces.size, pods: this.pods.size };
  }

  // ---- queries (answer.ts) ---------------------------------------------

  /** The namespace exists (a Namespace, or a Service in it) and the options expose it. */
  namespaceExposed(ns: string): boolean {
    if (this.opts.namespaces !== null && !this.opts.namespaces.has(ns)) return false;
    const rec = this.namespaces.get(ns);
    if (this.opts.namespaceLabels !== null) return rec !== undefined && matchSelector(this.opts.namespaceLabels, rec.labels);
    return rec !== undefined || (this.servicesPerNs.get(ns) ?? 0) > 0;
  }

  service(ns: string, name: string): ServiceRecord | undefined {
    return this.services.get(key(ns, name));
  }

  /** Serving endpoints of a service: ready ones, or all with publishNotReadyAddresses. */
  view(svc: ServiceRecord): ServiceView {
    const k = key(svc.namespace, svc.name);
    let v = this.views.get(k);
    if (v !== undefined) return v;
    const slices = this.slicesBySvc.get(k);
    if (slices === undefined || slices.size === 0) return EMPTY_VIEW;
    const byIP = new Map<string, EndpointEntry>();
    for (const s of slices) {
      for (const ep of s.endpoints) {
        if (!ep.ready && !svc.publishNotReadyAddresses) continue;
        for (const ip of ep.addresses) {
          const e = byIP.get(ip);
          if (e === undefined) {
            byIP.set(ip, {
              ip,
              v6: ip.includes(':'),
              label: endpointLabel(ip, ep.hostname, ep.podName, this.opts.endpointPodNames),
              ports: [...s.ports],
            });
          } else {
            for (const p of s.ports) {
              if (!e.ports.some((q) => q.name === p.name && q.protocol === p.protocol && q.port === p.port)) e.ports.push(p);
            }
          }
        }
      }
    }
    const entries = [...byIP.values()];
    const byLabel = new Map<string, EndpointEntry[]>();
    for (const e of entries) {
      const list = byLabel.get(e.label);
      if (list) list.push(e); else byLabel.set(e.label, [e]);
    }
    v = { entries, byLabel };
    this.views.set(k, v);
    return v;
  }

  /** Services owning this cluster IP. */
  servicesAt(ip: string): ServiceRecord[] {
    const keys = this.clusterIPs.get(ip);
    if (keys === undefined) return [];
    const out: ServiceRecord[] = [];
    for (const k of keys) {
      const s = this.services.get(k);
      if (s) out.push(s);
    }
    return out;
  }

  /** (service, label) of every serving endpoint with this IP, in any service that exists. */
  endpointsAt(ip: string): Array<{ svc: ServiceRecord; label: string }> {
    const slices = this.endpointIPs.get(ip);
    if (slices === undefined) return [];
    const out: Array<{ svc: ServiceRecord; label: string }> = [];
    const seen = new Set<string>();
    for (const s of slices) {
      const svc = this.services.get(key(s.namespace, s.service));
      if (svc === undefined) continue;
      for (const e of this.view(svc).entries) {
        if (e.ip !== ip) continue;
        const id = `${svc.namespace}/${svc.name}/${e.label}`;
        if (seen.has(id)) continue;
        seen.add(id);
        out.push({ svc, label: e.label });
      }
    }
    return out;
  }

  podsAt(ip: string): readonly PodRecord[] {
    return this.podsByIP.get(ip) ?? [];
  }

  // ---- internals --------------------------------------------------------

  private changed(): void {
    this.gen++;
    this.serial = Math.max(this.serial, Math.floor(Date.now() / 1000));
  }

  private admits(svc: ServiceRecord): boolean {
    return this.opts.labels === null || matchSelector(this.opts.labels, svc.labels);
  }

  private upsertService(r: ServiceRecord): void {
    const k = key(r.namespace, r.name);
    const old = this.services.get(k);
    if (!this.admits(r)) {
      if (old !== undefined) { this.dropService(k); this.changed(); }
      return;
    }
    if (old !== undefined && same(old, r)) return;
    if (old !== undefined) this.dropService(k);
    this.addService(r);
    this.changed();
  }

  private addService(r: ServiceRecord): void {
    if (!this.admits(r)) return;
    const k = key(r.namespace, r.name);
    this.services.set(k, r);
    this.servicesPerNs.set(r.namespace, (this.servicesPerNs.get(r.namespace) ?? 0) + 1);
    for (const ip of r.clusterIPs) {
      let set = this.clusterIPs.get(ip);
      if (!set) { set = new Set(); this.clusterIPs.set(ip, set); }
      set.add(k);
    }
    this.views.delete(k);
  }

  private dropService(k: string): boolean {
    const r = this.services.get(k);
    if (r === undefined) return false;
    this.services.delete(k);
    const n = (this.servicesPerNs.get(r.namespace) ?? 1) - 1;
    if (n <= 0) this.servicesPerNs.delete(r.namespace); else this.servicesPerNs.set(r.namespace, n);
    for (const ip of r.clusterIPs) {
      const set = this.clusterIPs.get(ip);
      if (!set) continue;
      set.delete(k);
      if (set.size === 0) this.clusterIPs.delete(ip);
    }
    this.views.delete(k);
    return true;
  }

  private upsertSlice(r: SliceRecord): void {
    const k = key(r.namespace, r.name);
    const old = this.slices.get(k);
    if (old !== undefined && same(old, r)) return;
    if (old !== undefined) this.dropSlice(k);
    this.addSlice(r);
    this.changed();
  }

  private addSlice(r: SliceRecord): void {
    const k = key(r.namespace, r.name);
    this.slices.set(k, r);
    const sk = key(r.namespace, r.service);
    let group = this.slicesBySvc.get(sk);
    if (!group) { group = new Set(); this.slicesBySvc.set(sk, group); }
    group.add(r);
    for (const ep of r.endpoints) {
      for (const ip of ep.addresses) {
        let set = this.endpointIPs.get(ip);
        if (!set) { set = new Set(); this.endpointIPs.set(ip, set); }
        set.add(r);
      }
    }
    this.views.delete(sk);
  }

  private dropSlice(k: string): boolean {
    const r = this.slices.get(k);
    if (r === undefined) return false;
    this.slices.delete(k);
    const sk = key(r.namespace, r.service);
    const group = this.slicesBySvc.get(sk);
    if (group) {
      group.delete(r);
      if (group.size === 0) this.slicesBySvc.delete(sk);
    }
    for (const ep of r.endpoints) {
      for (const ip of ep.addresses) {
        const set = this.endpointIPs.get(ip);
        if (!set) continue;
        set.delete(r);
        if (set.size === 0) this.endpointIPs.delete(ip);
      }
    }
    this.views.delete(sk);
    return true;
  }

  private upsertNamespace(r: NamespaceRecord): void {
    const old = this.namespaces.get(r.name);
    if (old !== undefined && same(old, r)) return;
    this.namespaces.set(r.name, r);
    this.changed();
  }

  private upsertPod(r: PodRecord): void {
    const k = key(r.namespace, r.name);
    const old = this.pods.get(k);
    if (old !== undefined && same(old, r)) return;
    if (old !== undefined) this.dropPod(k);
    this.addPod(r);
    this.changed();
  }

  private addPod(r: PodRecord): void {
    this.pods.set(key(r.namespace, r.name), r);
    for (const ip of r.ips) {
      const list = this.podsByIP.get(ip);
      if (list) list.push(r); else this.podsByIP.set(ip, [r]);
    }
  }

  private dropPod(k: string): boolean {
    const r = this.pods.get(k);
    if (r === undefined) return false;
    this.pods.delete(k);
    for (const ip of r.ips) {
      const list = this.podsByIP.get(ip);
      if (!list) continue;
      const rest = list.filter((p) => p !== r);
      if (rest.length === 0) this.podsByIP.delete(ip); else this.podsByIP.set(ip, rest);
    }
    return true;
  }
}

function sameMaps<V>(a: Map<string, V>, b: Map<string, V>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined || (w !== v && !same(v, w))) return false;
  }
  return true;
}
