// What a query name under one of the plugin's zones asks for. Pure string
// work on the lower-case name: no store access, no allocation beyond the
// label split.
//
// Forward zone (<zone> = cluster.local):
//   <zone>                                   apex (SOA, NS)
//   dns-version.<zone>                       schema version (TXT)
//   ns.dns.<zone>, dns.<zone>                the NS target and its parent
//   svc.<zone>, pod.<zone>                   NODATA
//   <ns>.svc|pod.<zone>                      a namespace
//   <svc>.<ns>.svc.<zone>                    a service
//   <label>.<svc>.<ns>.svc.<zone>            an endpoint of a service
//   _<port>._<proto>.<svc>.<ns>.svc.<zone>   named port(s) of a service
//   <a-b-c-d>.<ns>.pod.<zone>                a pod by its dashed IP
// Reverse zone (in-addr.arpa, ip6.arpa or narrower):
//   <reversed address>                       PTR of a complete address
// Anything else (more labels, a wildcard, a second label from the right
// that is not svc/pod) names nothing: NXDOMAIN.

import { isIPv4, isIPv6 } from 'node:net';
import { compressIPv6, ipFromReverse, stripZone } from '../../dns/names.js';

export type Asked =
  | { kind: 'apex' }
  | { kind: 'dns-version' }
  | { kind: 'ns-name' }
  | { kind: 'empty' }
  | { kind: 'namespace'; space: 'svc' | 'pod'; ns: string }
  | { kind: 'service'; ns: string; service: string }
  | { kind: 'endpoint'; ns: string; service: string; endpoint: string }
  | { kind: 'port'; ns: string; service: string; port: string; proto: string }
  | { kind: 'pod'; ns: string; pod: string }
  | { kind: 'reverse'; ip: string }
  | { kind: 'none' };

const APEX: Asked = { kind: 'apex' };
const VERSION: Asked = { kind: 'dns-version' };
const NS_NAME: Asked = { kind: 'ns-name' };
const EMPTY: Asked = { kind: 'empty' };
const NONE: Asked = { kind: 'none' };

export function isReverseZone(zone: string): boolean {
  return zone === 'in-addr.arpa' || zone === 'ip6.arpa' || zone.endsWith('.in-addr.arpa') || zone.endsWith('.ip6.arpa');
}

/** `lname` must be at or below `zone` (both lower-case, no trailing dot). */
export function parseName(lname: string, zone: string, reverse: boolean): Asked {
  const rest = stripZone(lname, zone);
  if (rest === '') return APEX;
  // Escaped bytes (\. \DDD) never spell a Kubernetes name; wildcards are not served.
  if (rest.includes('\\') || rest.includes('*')) return NONE;
  if (rest === 'dns-version') return VERSION;
  if (rest === 'ns.dns') return NS_NAME;
  if (rest === 'dns') return EMPTY;
  if (reverse) {
    const ip = ipFromReverse(lname);
    return ip === null ? NONE : { kind: 'reverse', ip };
  }
  const labels = rest.split('.');
  const n = labels.length;
  const space = labels[n - 1];
  // Read from the right: `n` says which of these exist (the defaults are never used).
  const [l0 = '', l1 = '', l2 = '', l3 = ''] = labels;
  if (space === 'svc') {
    switch (n) {
      case 1: return EMPTY;
      case 2: return { kind: 'namespace', space, ns: l0 };
      case 3: return { kind: 'service', ns: l1, service: l0 };
      case 4: return { kind: 'endpoint', ns: l2, service: l1, endpoint: l0 };
      case 5: {
        const port = l0;
        const proto = l1;
        if (port.length < 2 || proto.length < 2 || port[0] !== '_' || proto[0] !== '_') return NONE;
        return { kind: 'port', ns: l3, service: l2, port: port.slice(1), proto: proto.slice(1) };
      }
      default: return NONE;
    }
  }
  if (space === 'pod') {
    switch (n) {
      case 1: return EMPTY;
      case 2: return { kind: 'namespace', space, ns: l0 };
      case 3: return { kind: 'pod', ns: l1, pod: l0 };
      default: return NONE;
    }
  }
  return NONE;
}

/**
 * The IP a pod label spells: 1-2-3-4 -> 1.2.3.4; fd00--1 -> fd00::1 (as
 * CoreDNS: three dashes and no "--" is IPv4, anything else IPv6). A label
 * with a leading or trailing "0" added for a "-" (0--1) reads back too.
 * Returns the canonical form, or null.
 */
export function podIP(label: string): string | null {
  let dashes = 0;
  for (let i = 0; i < label.length; i++) if (label.charCodeAt(i) === 45) dashes++;
  if (dashes === 3 && !label.includes('--')) {
    const ip = label.replace(/-/g, '.');
    return isIPv4(ip) ? ip : null;
  }
  const ip = label.replace(/-/g, ':');
  return isIPv6(ip) && !ip.includes('.') ? compressIPv6(ip) : null;
}
