// The endpoint half of explain: every address of every slice of a service,
// whether it is in the answer, and if not why, by the rules of
// store.buildView (serving, deduplicated by IP, first label wins) and
// answer.ts (label, port and family filters).

import { QTYPE } from '../../dns/constants.js';
import type { Asked } from './names.js';
import type { PortRecord } from './objects.js';
import { endpointLabel, type Service, type Slice } from './store.js';
import { ipText } from './store-tables.js';

export interface PortFacts extends PortRecord { used: boolean; why?: string }

export interface EndpointFacts {
  ip: string;
  ready: boolean;
  hostname: string;
  podName: string;
  /** The label the address answers to (hostname, pod name, or dashed IP). */
  label: string;
  used: boolean;
  why?: string;
}

type Missing = { piece: 'endpoint' | 'port'; why: string };

/** A port against the query: the named port asked for, or SRV's need for a name. */
export function portFacts(p: PortRecord, port: { name: string; proto: string } | null, qtype: number): PortFacts {
  if (port !== null) {
    const ok = p.name.toLowerCase() === port.name && p.protocol.toLowerCase() === port.proto;
    return ok ? { ...p, used: true } : { ...p, used: false, why: `not _${port.name}._${port.proto}` };
  }
  if (qtype === QTYPE.SRV && p.name === '') return { ...p, used: false, why: 'port unnamed: SRV records need a port name' };
  return { ...p, used: true };
}

export function explainEndpoints(
  svc: Service, slices: readonly Slice[], a: Extract<Asked, { kind: 'service' | 'endpoint' | 'port' }>,
  qtype: number, podNames: boolean, backingOnly: boolean,
): { slices: Array<{ name: string; ports: PortFacts[]; endpoints: EndpointFacts[] }>; servingCount: number; missing: Missing | null } {
  // A ClusterIP service's answer carries its cluster IP: its endpoints only back it, whatever was asked.
  const port = a.kind === 'port' && !backingOnly ? { name: a.port, proto: a.proto } : null;
  const portQtype = backingOnly ? 0 : qtype;
  const firstAt = new Map<string, string>();
  let servingCount = 0;
  let withPort = 0;
  const servingLabels = new Set<string>();
  const notServingLabels = new Set<string>();
  const out = slices.map((s) => {
    const ports = s.ports.map((p) => portFacts(p, port, portQtype));
    const hasPort = ports.some((p) => p.used && p.name !== '') || (port === null && portQtype !== QTYPE.SRV);
    const endpoints = s.ips.map((addr, i): EndpointFacts => {
      const ip = ipText(addr);
      const ready = s.ready === null || s.ready[i] === true;
      const hostname = s.hostnames?.[i] ?? '';
      const podName = s.podNames?.[i] ?? '';
      const label = endpointLabel(ip, hostname, podName, podNames);
      const e: EndpointFacts = { ip, ready, hostname, podName, label, used: false };
      if (!ready && !svc.publishNotReadyAddresses) {
        notServingLabels.add(label);
        e.why = 'not ready (conditions.ready is false; a terminating endpoint reports not ready too, and the store keeps only readiness)';
        return e;
      }
      const first = firstAt.get(ip);
      if (first !== undefined) {
        e.why = `the same address is listed first by slice ${first}: that one is used`;
        return e;
      }
      firstAt.set(ip, s.name);
      servingCount++;
      servingLabels.add(label);
      if (hasPort) withPort++;
      if (backingOnly) {
        e.used = true;
        return e;
      }
      if (a.kind === 'endpoint' && label !== a.endpoint) {
        e.why = `answers to "${label}"${hostname === '' ? ` (no hostname: named by its ${label === podName ? 'pod name' : 'dashed IP'})` : ''}, not "${a.endpoint}"`;
        return e;
      }
      if (!hasPort) {
        e.why = port !== null ? `its slice has no port _${port.name}._${port.proto}` : 'its slice has no named port: no SRV record';
        return e;
      }
      const v6 = ip.includes(':');
      if ((qtype === QTYPE.A && v6) || (qtype === QTYPE.AAAA && !v6)) {
        e.why = `an IPv${v6 ? 6 : 4} address is not part of a ${qtype === QTYPE.A ? 'A' : 'AAAA'} answer`;
        return e;
      }
      e.used = true;
      return e;
    });
    return { name: s.name, ports, endpoints };
  });
  let missing: Missing | null = null;
  if (!backingOnly && a.kind === 'endpoint' && !servingLabels.has(a.endpoint)) {
    missing = notServingLabels.has(a.endpoint)
      ? { piece: 'endpoint', why: `the endpoint "${a.endpoint}" exists but is not ready` }
      : { piece: 'endpoint', why: `no endpoint of ${svc.namespace}/${svc.name} answers to "${a.endpoint}"${slices.length === 0 ? ' (the service has no EndpointSlice)' : ''}` };
  } else if (!backingOnly && servingCount === 0) {
    missing = { piece: 'endpoint', why: slices.length === 0
      ? `${svc.namespace}/${svc.name} has no EndpointSlice; a headless service's name exists only while it has serving endpoints`
      : `${svc.namespace}/${svc.name} has no serving endpoint (none ready); a headless service's name exists only while it has one` };
  } else if (!backingOnly && a.kind === 'port' && withPort === 0) {
    missing = { piece: 'port', why: `no EndpointSlice of ${svc.namespace}/${svc.name} has a port named "${a.port}" with protocol ${a.proto.toUpperCase()}` };
  }
  return { slices: out, servingCount, missing };
}
