import { canonicalIP } from '../../dns/names.js';

/**
 * The compact records the store keeps: only what DNS needs, read from API
 * objects of either shape (list items carry Date fields, watch objects raw
 * JSON strings), so nothing here touches timestamps.
 */

export type Kind = 'services' | 'endpointslices' | 'namespaces' | 'pods';

export interface PortRecord { name: string; protocol: string; port: number }

export interface ServiceRecord {
  namespace: string;
  name: string;
  /** ClusterIP (has IPs), Headless (clusterIP None), ExternalName. */
  kind: 'ClusterIP' | 'Headless' | 'ExternalName';
  /** Canonical IP strings, both families for dual-stack. */
  clusterIPs: string[];
  externalName: string;
  ports: PortRecord[];
  publishNotReadyAddresses: boolean;
  labels: Record<string, string>;
  /**
   * spec.externalIPs, then each status.loadBalancer.ingress[] ip (or its
   * hostname when it has no ip), as CoreDNS's object.Service keeps them
   * for k8s_external. Absent when there are none (most services).
   */
  externalIPs?: string[];
}

export interface EndpointRecord {
  /** Canonical IPs (an EndpointSlice endpoint holds addresses of one family). */
  addresses: string[];
  ready: boolean;
  hostname: string;
  /** targetRef.name when targetRef.kind is Pod. */
  podName: string;
}

/** One EndpointSlice, or one legacy Endpoints object (key = its name). */
export interface SliceRecord {
  namespace: string;
  name: string;
  service: string;
  endpoints: EndpointRecord[];
  ports: PortRecord[];
  /**
   * ms since the epoch from endpoints.kubernetes.io/last-change-trigger-time
   * (the change to the service or its pods that this version reflects);
   * undefined without the annotation, NaN when it is not RFC 3339.
   */
  triggerTime?: number;
}

export interface NamespaceRecord { name: string; labels: Record<string, string> }

export interface PodRecord { namespace: string; name: string; ips: string[] }

export type RecordOf<K extends Kind> =
  K extends 'services' ? ServiceRecord :
    K extends 'endpointslices' ? SliceRecord :
    K extends 'namespaces' ? NamespaceRecord : PodRecord;

/** Where the sync sources (API watch, manifest files) deliver records. */
export interface StoreSink {
  upsert<K extends Kind>(kind: K, rec: RecordOf<K>): void;
  /** `triggerTime`: the deleted slice's (SliceRecord.triggerTime), for the programming-duration histogram. */
  remove(kind: Kind, namespace: string, name: string, triggerTime?: number): void;
  /** A complete list: replaces everything of this kind at once (relist after 410, restart). */
  replace<K extends Kind>(kind: K, recs: Array<RecordOf<K>>): void;
  /**
   * Optional: the same as replace, record by record, so a list read in pages
   * need not hold every record of the kind at once. Nothing changes until
   * commit(); a batch that is never committed is simply dropped.
   */
  beginReplace?<K extends Kind>(kind: K): ReplaceBatch<K>;
  /** This kind has completed a first full list. */
  markSynced(kind: Kind): void;
}

/** A complete list of one kind, delivered record by record (StoreSink.beginReplace). */
export interface ReplaceBatch<K extends Kind> {
  add(rec: RecordOf<K>): void;
  /** The list is complete: it replaces everything of this kind at once. */
  commit(): void;
}

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return v !== null && typeof v === 'object' ? (v as Obj) : {};
}
function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function labelsOf(meta: Obj): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(meta.labels))) if (typeof v === 'string') out[k] = v;
  return out;
}
function ips(list: unknown[]): string[] {
  const out: string[] = [];
  for (const v of list) {
    const ip = canonicalIP(str(v));
    if (ip !== null && !out.includes(ip)) out.push(ip);
  }
  return out;
}
function ports(list: unknown[]): PortRecord[] {
  return list.map((p) => {
    const o = obj(p);
    return { name: str(o.name), protocol: str(o.protocol) || 'TCP', port: typeof o.port === 'number' ? o.port : 0 };
  });
}

export function toService(o: unknown): ServiceRecord | null {
  const meta = obj(obj(o).metadata);
  const spec = obj(obj(o).spec);
  const name = str(meta.name);
  if (!name) return null;
  const type = str(spec.type);
  const clusterIP = str(spec.clusterIP);
  let kind: ServiceRecord['kind'] = 'ClusterIP';
  if (type === 'ExternalName') kind = 'ExternalName';
  else if (clusterIP === 'None') kind = 'Headless';
  const listed = arr(spec.clusterIPs);
  return {
    namespace: str(meta.namespace) || 'default',
    name,
    kind,
    clusterIPs: kind === 'ClusterIP' ? ips(listed.length > 0 ? listed : [clusterIP]) : [],
    externalName: kind === 'ExternalName' ? str(spec.externalName).replace(/\.$/, '').toLowerCase() : '',
    ports: ports(arr(spec.ports)),
    publishNotReadyAddresses: spec.publishNotReadyAddresses === true,
    labels: labelsOf(meta),
    ...externalOf(spec, obj(obj(o).status)),
  };
}

/** The `externalIPs` field of a ServiceRecord, or nothing when the service has none. */
function externalOf(spec: Obj, status: Obj): { externalIPs?: string[] } {
  const out = ips(arr(spec.externalIPs));
  for (const i of arr(obj(status.loadBalancer).ingress)) {
    const ingress = obj(i);
    const ip = canonicalIP(str(ingress.ip));
    const host = str(ingress.hostname).replace(/\.$/, '').toLowerCase();
    const v = ip ?? host;
    if (v !== '' && !out.includes(v)) out.push(v);
  }
  return out.length === 0 ? {} : { externalIPs: out };
}

const TRIGGER_TIME = 'endpoints.kubernetes.io/last-change-trigger-time';
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/** An EndpointSlice's or Endpoints' trigger time (SliceRecord.triggerTime). */
export function triggerTimeOf(o: unknown): number | undefined {
  const v = obj(obj(obj(o).metadata).annotations)[TRIGGER_TIME];
  if (v === undefined) return undefined;
  const text = str(v);
  return RFC3339.test(text) ? Date.parse(text) : NaN;
}

/** The record with its trigger time, when the object has one. */
function withTrigger(rec: SliceRecord, o: unknown): SliceRecord {
  const t = triggerTimeOf(o);
  return t === undefined ? rec : { ...rec, triggerTime: t };
}

export function toSlice(o: unknown): SliceRecord | null {
  const meta = obj(obj(o).metadata);
  const name = str(meta.name);
  const service = labelsOf(meta)['kubernetes.io/service-name'] ?? '';
  if (!name || !service) return null;
  const endpoints: EndpointRecord[] = arr(obj(o).endpoints).map((e) => {
    const ep = obj(e);
    const ready = obj(ep.conditions).ready;
    const ref = obj(ep.targetRef);
    return {
      addresses: ips(arr(ep.addresses)),
      // The API says: unknown readiness (absent) is to be read as ready.
      ready: ready !== false,
      hostname: str(ep.hostname).toLowerCase(),
      podName: str(ref.kind) === 'Pod' ? str(ref.name).toLowerCase() : '',
    };
  });
  return withTrigger({ namespace: str(meta.namespace) || 'default', name, service, endpoints, ports: ports(arr(obj(o).ports)) }, o);
}

/** Legacy v1 Endpoints -> one slice-shaped record named after the service. */
export function endpointsToSlice(o: unknown): SliceRecord | null {
  const meta = obj(obj(o).metadata);
  const name = str(meta.name);
  if (!name) return null;
  const endpoints: EndpointRecord[] = [];
  let slicePorts: PortRecord[] = [];
  for (const s of arr(obj(o).subsets)) {
    const subset = obj(s);
    slicePorts = ports(arr(subset.ports));
    for (const [list, ready] of [[arr(subset.addresses), true], [arr(subset.notReadyAddresses), false]] as const) {
      for (const a of list) {
        const addr = obj(a);
        const ref = obj(addr.targetRef);
        endpoints.push({
          addresses: ips([addr.ip]),
          ready,
          hostname: str(addr.hostname).toLowerCase(),
          podName: str(ref.kind) === 'Pod' ? str(ref.name).toLowerCase() : '',
        });
      }
    }
  }
  return withTrigger({ namespace: str(meta.namespace) || 'default', name, service: name, endpoints, ports: slicePorts }, o);
}

export function toNamespace(o: unknown): NamespaceRecord | null {
  const meta = obj(obj(o).metadata);
  const name = str(meta.name);
  return name ? { name, labels: labelsOf(meta) } : null;
}

export function toPod(o: unknown): PodRecord | null {
  const meta = obj(obj(o).metadata);
  const status = obj(obj(o).status);
  const name = str(meta.name);
  if (!name) return null;
  const list = arr(status.podIPs).map((p) => obj(p).ip);
  return { namespace: str(meta.namespace) || 'default', name, ips: ips(list.length > 0 ? list : [status.podIP]) };
}
