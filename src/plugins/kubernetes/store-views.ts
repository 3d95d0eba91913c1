// Endpoint views: the serving endpoints of one service, deduplicated across
// its slices, with the DNS label each answers to. Built on demand from the
// slices, dropped when the service or one of its slices changes, and kept
// in a bounded LRU (MAX_VIEW_ENTRIES endpoints over all cached views).

import type { PortRecord } from './objects.js';
import { type Service, type Slice, ipText } from './store-tables.js';

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

export const EMPTY_VIEW = new ServiceView([]);
/** Endpoints kept over all cached views; the newest view is kept whatever its size. */
const MAX_VIEW_ENTRIES = 20_000;
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

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

/** Address i of the slice serves: ready, or the service publishes not-ready addresses. */
export function serving(svc: Service, s: Slice, i: number): boolean {
  return s.ready === null || s.ready[i] === true || svc.publishNotReadyAddresses;
}

/** The label of address i of the slice. */
export function labelAt(s: Slice, i: number, ip: string, podNames: boolean): string {
  return endpointLabel(ip, s.hostnames?.[i] ?? '', s.podNames?.[i] ?? '', podNames);
}

export function buildView(svc: Service, slices: readonly Slice[], podNames: boolean): ServiceView {
  const byIP = new Map<string, EndpointEntry>();
  for (const s of slices) {
    s.ips.forEach((addr, i) => {
      if (!serving(svc, s, i)) return;
      const ip = ipText(addr);
      const e = byIP.get(ip);
      if (e === undefined) {
        byIP.set(ip, { ip, v6: ip.includes(':'), label: labelAt(s, i, ip, podNames), ports: s.ports });
      } else if (e.ports !== s.ports) {
        const extra = s.ports.filter((p) => !e.ports.some((q) => q.name === p.name && q.protocol === p.protocol && q.port === p.port));
        if (extra.length > 0) byIP.set(ip, { ...e, ports: [...e.ports, ...extra] });
      }
    });
  }
  return byIP.size === 0 ? EMPTY_VIEW : new ServiceView([...byIP.values()]);
}

/** Views by "ns/svc", least recently used first, bounded in endpoints. */
export class ViewCache {
  private readonly views = new Map<string, ServiceView>();
  private entries = 0;

  /** The cached view of the service, or the one `build` makes (then cached). */
  get(ns: string, svc: string, build: () => ServiceView): ServiceView {
    const k = `${ns}/${svc}`;
    let v = this.views.get(k);
    if (v !== undefined) {
      // Most recently used goes last.
      this.views.delete(k);
      this.views.set(k, v);
      return v;
    }
    v = build();
    this.views.set(k, v);
    this.entries += v.entries.length;
    for (const [ok, ov] of this.views) {
      if (this.entries <= MAX_VIEW_ENTRIES || ov === v) break;
      this.views.delete(ok);
      this.entries -= ov.entries.length;
    }
    return v;
  }

  drop(ns: string, svc: string): void {
    const k = `${ns}/${svc}`;
    const v = this.views.get(k);
    if (v === undefined) return;
    this.views.delete(k);
    this.entries -= v.entries.length;
  }

  clear(): void {
    this.views.clear();
    this.entries = 0;
  }
}
