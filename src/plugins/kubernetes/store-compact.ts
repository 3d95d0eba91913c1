// The store's own compact form of the records a source hands over (the
// records themselves are dropped): strings and port lists that recur are
// shared, and a slice becomes one flat address array (IPv4 as numbers) plus per-address
// ready / hostname / pod name arrays only when some address needs them.

import type { PodRecord, PortRecord, ServiceRecord, SliceRecord } from './objects.js';
import { NONE, type Pod, type Service, type Slice, type SliceIP, sliceIP } from './store-tables.js';

/** Interning tables start over past this many distinct values (records keep theirs). */
const MAX_INTERNED = 10_000;

export class Compactor {
  private readonly nsNames = new Map<string, string>();
  private readonly portLists = new Map<string, readonly PortRecord[]>();

  /** `podNames`: keep endpoints' pod names (`endpoint_pod_names`). */
  constructor(private readonly podNames: boolean) {}

  service(r: ServiceRecord): Service {
    return {
      namespace: this.ns(r.namespace),
      name: r.name,
      kind: r.kind,
      clusterIPs: r.clusterIPs.length === 0 ? NONE : r.clusterIPs.slice(),
      externalName: r.externalName,
      ports: this.ports(r.ports),
      publishNotReadyAddresses: r.publishNotReadyAddresses,
      externalIPs: r.externalIPs === undefined || r.externalIPs.length === 0 ? NONE : r.externalIPs.slice(),
    };
  }

  slice(r: SliceRecord): Slice {
    let n = 0;
    for (const ep of r.endpoints) n += ep.addresses.length;
    // The per-address arrays are made only once some address needs them.
    const ips: SliceIP[] = n === 0 ? (NONE as never[]) : new Array<SliceIP>(n);
    let ready: boolean[] | null = null;
    let hostnames: string[] | null = null;
    let podNames: string[] | null = null;
    let i = 0;
    for (const ep of r.endpoints) {
      for (const ip of ep.addresses) {
        ips[i] = sliceIP(ip);
        if (!ep.ready) ready ??= new Array<boolean>(n).fill(true);
        if (ready !== null) ready[i] = ep.ready;
        if (ep.hostname !== '') hostnames ??= new Array<string>(n).fill('');
        if (hostnames !== null) hostnames[i] = ep.hostname;
        if (this.podNames && ep.podName !== '') podNames ??= new Array<string>(n).fill('');
        if (podNames !== null) podNames[i] = ep.podName;
        i++;
      }
    }
    return { namespace: this.ns(r.namespace), name: r.name, service: r.service, ports: this.ports(r.ports), ips, ready, hostnames, podNames };
  }

  pod(r: PodRecord): Pod {
    return { namespace: this.ns(r.namespace), name: r.name, ips: r.ips.length === 0 ? NONE : r.ips.slice() };
  }

  /** One shared string per namespace name. */
  ns(name: string): string {
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
}
