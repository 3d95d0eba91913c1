// The store's records and the containers that index them. One generic
// table serves every kind: a descriptor says which IPs a record is found
// under, how two records compare, and (slices) which group it joins.

import type { PortRecord, ServiceRecord } from './objects.js';

/** A service as the store keeps it: its record without the labels. */
export type Service = Readonly<Omit<ServiceRecord, 'labels' | 'clusterIPs' | 'ports' | 'externalIPs'>> & {
  readonly clusterIPs: readonly string[];
  readonly ports: readonly PortRecord[];
  /** ServiceRecord.externalIPs; the shared empty list when there are none. */
  readonly externalIPs: readonly string[];
};

/**
 * An endpoint address as a slice keeps it: IPv4 as its 32-bit number, IPv6
 * as its canonical text. At 100,000 endpoints a string per IPv4 address
 * (and its string-table entry) is several MB; a number in a packed array is
 * 4 or 8 bytes. ipText() gives the text back when an answer needs it.
 */
export type SliceIP = number | string;

/** A canonical IPv4 address as its 32-bit number; anything else (IPv6, not canonical) as given. */
export function sliceIP(ip: string): SliceIP {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i) - 48;
    if (c >= 0 && c <= 9) {
      // No leading zeros: only the canonical text maps to a number (and back to the same text).
      if (digits > 0 && part === 0) return ip;
      part = part * 10 + c;
      if (++digits > 3 || part > 255) return ip;
    } else if (c === -2 && digits > 0 && dots < 3) { // '.'
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else {
      return ip;
    }
  }
  return dots === 3 && digits > 0 ? n * 256 + part : ip;
}

export function ipText(ip: SliceIP): string {
  if (typeof ip === 'string') return ip;
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/**
 * The reverse-index key an address is found under. IPv4 addresses share one
 * key per /24 (a few hundred keys instead of one Map entry per endpoint; a
 * lookup checks the few candidates' addresses); IPv6 addresses key exactly.
 */
export type IPKey = number | string;
export function ipKey(ip: SliceIP): IPKey {
  return typeof ip === 'number' ? ip >>> 8 : ip;
}

/** An EndpointSlice (or legacy Endpoints) as the store keeps it. */
export interface Slice {
  readonly namespace: string;
  readonly name: string;
  readonly service: string;
  readonly ports: readonly PortRecord[];
  /** Every address of every endpoint, in order. */
  readonly ips: readonly SliceIP[];
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

export const NONE: readonly never[] = Object.freeze([]);

/** namespace -> name -> V, without a "ns/name" string per entry. */
export class ByNs<V> {
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

/** A value of a one-or-more map: V itself, or V[] when there are several (most keys hold one). */
export type Some<V> = V | V[];

export function addTo<K, V extends object>(m: Map<K, Some<V>>, k: K, v: V): void {
  const cur = m.get(k);
  if (cur === undefined) m.set(k, v);
  else if (Array.isArray(cur)) { if (!cur.includes(v)) cur.push(v); }
  else if (cur !== v) m.set(k, [cur, v]);
}

export function removeFrom<K, V extends object>(m: Map<K, Some<V>>, k: K, v: V): void {
  const cur = m.get(k);
  if (cur === undefined) return;
  if (!Array.isArray(cur)) {
    if (cur === v) m.delete(k);
    return;
  }
  const i = cur.indexOf(v);
  if (i < 0) return;
  cur.splice(i, 1);
  const [only] = cur;
  if (cur.length === 1 && only !== undefined) m.set(k, only);
  else if (cur.length === 0) m.delete(k);
}

export function each<V extends object>(s: Some<V> | undefined): readonly V[] {
  if (s === undefined) return NONE;
  return Array.isArray(s) ? s : [s];
}

function sameList<T>(a: readonly T[] | null, b: readonly T[] | null): boolean {
  if (a === b) return true;
  if (a === null || b === null || a.length !== b.length) return false;
  return a.every((v, i) => v === b[i]);
}

function samePorts(a: readonly PortRecord[], b: readonly PortRecord[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  return a.every((p, i) => {
    const q = b[i];
    return q !== undefined && p.name === q.name && p.protocol === q.protocol && p.port === q.port;
  });
}

export function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

/** What a table needs to know about the records of one kind. */
export interface TableKind<V extends { namespace: string; name: string }> {
  /** The keys of the addresses the record is found under (reverse lookups; may repeat). */
  ipKeys(v: V): Iterable<IPKey>;
  /** The two records give the same answers. */
  same(a: V, b: V): boolean;
  /** The name of the group the record joins (a slice's service), if the kind has groups. */
  group?(v: V): string;
}

export const SERVICES: TableKind<Service> = {
  ipKeys: (s) => s.clusterIPs,
  same: (a, b) => a.kind === b.kind && a.externalName === b.externalName && a.publishNotReadyAddresses === b.publishNotReadyAddresses
    && sameList(a.clusterIPs, b.clusterIPs) && samePorts(a.ports, b.ports) && sameList(a.externalIPs, b.externalIPs),
};

export const SLICES: TableKind<Slice> = {
  ipKeys: (s) => s.ips.map(ipKey),
  same: (a, b) => a.service === b.service && samePorts(a.ports, b.ports) && sameList(a.ips, b.ips)
    && sameList(a.ready, b.ready) && sameList(a.hostnames, b.hostnames) && sameList(a.podNames, b.podNames),
  group: (s) => s.service,
};

export const PODS: TableKind<Pod> = {
  ipKeys: (p) => p.ips,
  same: (a, b) => sameList(a.ips, b.ips),
};

/** One kind's records and indexes, swapped whole by a relist. */
export class Table<V extends { namespace: string; name: string }> {
  readonly byName = new ByNs<V>();
  readonly byIP = new Map<IPKey, Some<V>>();
  /** ns -> group -> its records, in arrival order (kinds with groups only). */
  readonly groups = new ByNs<Some<V>>();

  constructor(readonly desc: TableKind<V>) {}

  add(v: V): void {
    const old = this.byName.get(v.namespace, v.name);
    if (old !== undefined) this.drop(old);
    this.byName.set(v.namespace, v.name, v);
    const group = this.desc.group?.(v);
    if (group !== undefined) {
      const g = this.groups.get(v.namespace, group);
      if (g === undefined) this.groups.set(v.namespace, group, v);
      else if (Array.isArray(g)) g.push(v);
      else this.groups.set(v.namespace, group, [g, v]);
    }
    for (const k of this.desc.ipKeys(v)) addTo(this.byIP, k, v);
  }

  drop(v: V): void {
    this.byName.delete(v.namespace, v.name);
    const group = this.desc.group?.(v);
    if (group !== undefined) {
      const g = this.groups.get(v.namespace, group);
      if (g === v) this.groups.delete(v.namespace, group);
      else if (Array.isArray(g)) {
        const i = g.indexOf(v);
        if (i >= 0) g.splice(i, 1);
        const [only] = g;
        if (g.length === 1 && only !== undefined) this.groups.set(v.namespace, group, only);
      }
    }
    for (const k of this.desc.ipKeys(v)) removeFrom(this.byIP, k, v);
  }

  /** Both tables hold the same records (a relist that changed nothing). */
  same(o: Table<V>): boolean {
    if (this.byName.size !== o.byName.size) return false;
    for (const v of this.byName.values()) {
      const w = o.byName.get(v.namespace, v.name);
      if (w === undefined || !this.desc.same(v, w)) return false;
    }
    return true;
  }
}
