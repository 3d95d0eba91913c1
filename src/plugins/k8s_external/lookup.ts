// Which external addresses a name under a k8s_external zone stands for, as
// CoreDNS's Kubernetes.External reads the name:
//   <svc>.<ns>.<zone>                 every external IP (any port)
//   _<port>._<proto>.<svc>.<ns>.<zone> those with a matching named port (SRV)
//   <endpoint>.<svc>.<ns>.<zone>      with `headless`: that endpoint
// A headless service without external IPs answers with its serving
// endpoints when `headless` is on.

import { RCODE } from '../../dns/constants.js';
import { stripZone } from '../../dns/names.js';
import type { PortRecord } from '../kubernetes/objects.js';
import type { Service, Store } from '../kubernetes/store.js';

/** One (address, port) the name stands for; `target` is the SRV target owning the address. */
export interface Hit {
  /** An IP, or a LoadBalancer ingress hostname. */
  readonly host: string;
  /** -1: the service declares no port (no SRV). */
  readonly port: number;
  readonly target: string;
}

export interface Found {
  hits: Hit[];
  /** NOERROR when the name exists (even without hits for this question), else NXDOMAIN. */
  rcode: number;
}

/** A service without ports still has its addresses: CoreDNS's port -1 sentinel. */
const NO_PORT: readonly PortRecord[] = [{ name: '', protocol: '', port: -1 }];

const strip = (label: string): string => (label.startsWith('_') ? label.slice(1) : label);
const matches = (asked: string, have: string): boolean => asked === '' || asked === have.toLowerCase();

export function findExternal(store: Store, lname: string, zone: string, headless: boolean): Found {
  const base = stripZone(lname, zone);
  const segs = base === '' ? [] : base.split('.');
  const ns = segs.pop();
  if (ns === undefined || !store.namespaceExposed(ns)) return { hits: [], rcode: RCODE.NXDOMAIN };
  const name = segs.pop();
  if (name === undefined) return { hits: [], rcode: RCODE.NOERROR };
  let endpoint = '', port = '', proto = '';
  if (segs.length === 1) endpoint = strip(segs[0] ?? '');
  else if (segs.length === 2) { port = strip(segs[0] ?? ''); proto = strip(segs[1] ?? ''); }
  else if (segs.length > 2) return { hits: [], rcode: RCODE.NXDOMAIN };

  const svc = store.service(ns, name);
  if (svc === undefined) return { hits: [], rcode: RCODE.NXDOMAIN };
  const owner = zone === '' ? `${name}.${ns}` : `${name}.${ns}.${zone}`;
  const hits: Hit[] = [];
  if (headless && svc.externalIPs.length === 0 && (svc.kind === 'Headless' || endpoint !== '')) {
    for (const e of store.view(svc).entries) {
      if (endpoint !== '' && e.label !== endpoint) continue;
      for (const p of e.ports.length === 0 ? NO_PORT : e.ports) {
        if (matches(port, p.name) && matches(proto, p.protocol)) hits.push({ host: e.ip, port: p.port, target: `${e.label}.${owner}` });
      }
    }
  } else {
    // As CoreDNS: an endpoint label in front of a service with external IPs is not checked.
    addExternal(svc, port, proto, owner, hits);
  }
  return { hits, rcode: hits.length > 0 ? RCODE.NOERROR : RCODE.NXDOMAIN };
}

function addExternal(svc: Service, port: string, proto: string, owner: string, hits: Hit[]): void {
  for (const host of svc.externalIPs) {
    for (const p of svc.ports.length === 0 ? NO_PORT : svc.ports) {
      if (matches(port, p.name) && matches(proto, p.protocol)) hits.push({ host, port: p.port, target: owner });
    }
  }
}
