// `explain` for cluster names: the objects behind a name, what was left out
// and why, and for a name that does not exist the first missing piece. It
// repeats the rules of answer.ts over the store's raw facts (not its views),
// because a view keeps only what serves and explain must show the rest.
//
// What the store keeps bounds what can be said: an endpoint's `ready`
// condition is kept, `serving` and `terminating` are not (a terminating
// endpoint is reported not ready by the API, and that is how it is left
// out), and services the `labels` selector rejects are never kept.

import { QTYPE } from '../../dns/constants.js';
import { isSubdomain, stripZone } from '../../dns/names.js';
import type { PluginExplanation } from '../../server/plugin.js';
import { explainEndpoints, type EndpointFacts, type PortFacts, portFacts } from './explain-endpoints.js';
import { parseName, podIP, type Asked } from './names.js';
import type { NamespaceRecord } from './objects.js';
import { matchSelector } from './selector.js';
import type { KubernetesOptions } from './setup.js';
import type { Service, Slice } from './store.js';

/** What explain reads from the store. */
export interface ClusterFacts {
  readonly synced: boolean;
  namespaceRecord(ns: string): NamespaceRecord | undefined;
  serviceCount(ns: string): number;
  service(ns: string, name: string): Service | undefined;
  slicesOf(ns: string, service: string): readonly Slice[];
  podAt(ip: string, ns: string): boolean;
  servicesAt(ip: string): readonly Service[];
  endpointsAt(ip: string): Array<{ svc: Service; label: string }>;
}

export type ClusterExplainOptions = Pick<KubernetesOptions,
  'zones' | 'reverseZones' | 'namespaces' | 'namespaceLabels' | 'labels' | 'pods' | 'endpointPodNames' | 'fallthrough' | 'ignoreEmptyService' | 'noEndpoints'>;

export interface NamespaceFacts { name: string; exists: boolean; exposed: boolean; why?: string }

export interface SliceFacts { name: string; ports: PortFacts[]; endpoints: EndpointFacts[] }

export interface ClusterExplanation {
  zone: string;
  /** What the name asks for under the zone (names.ts). */
  asked: Asked;
  synced: boolean;
  namespace?: NamespaceFacts;
  service?: {
    namespace: string; name: string; type: Service['kind']; clusterIPs: string[]; externalName: string;
    publishNotReadyAddresses: boolean; ports: PortFacts[];
  };
  slices?: SliceFacts[];
  /** The name does not exist: the first piece that is missing, and why. */
  missing?: { piece: 'name' | 'namespace' | 'service' | 'endpoint' | 'port' | 'pod' | 'address'; why: string };
  /** The name looks like a resolver's search-path expansion of `original`. */
  searchPath?: { original: string; searchDomain: string; hint: string };
  /** Would-be NXDOMAIN answers for this name go to the next plugin (`fallthrough`). */
  fallthrough: boolean;
  notes: string[];
}

export function explainClusterName(facts: ClusterFacts, opts: ClusterExplainOptions, lname: string, qtype: number): PluginExplanation | null {
  const zone = [...opts.zones].sort((a, b) => b.length - a.length).find((z) => isSubdomain(lname, z));
  if (zone === undefined) return shortNameHint(facts, opts, lname, qtype);
  const asked = parseName(lname, zone, opts.reverseZones.includes(zone));
  const x: ClusterExplanation = {
    zone: zone || '.', asked, synced: facts.synced,
    fallthrough: opts.fallthrough.matches(lname),
    notes: [],
  };
  if (!facts.synced) x.notes.push('Kubernetes data is not synced yet: names not found are answered SERVFAIL, not NXDOMAIN');
  reason(facts, opts, x, qtype);
  if (x.missing !== undefined) {
    const sp = searchExpansion(lname, zone, opts);
    if (sp !== null) x.searchPath = sp;
    if (x.fallthrough) x.notes.push('fallthrough: this NXDOMAIN is handed to the next plugin instead');
  }
  return { plugin: 'kubernetes', summary: summary(x), lines: lines(x), data: x };
}

/**
 * `db-1.db.shop`, asked as typed in a pod: not a cluster name itself, but
 * the resolver's search list makes `db-1.db.shop.svc.<zone>` one of its tries.
 */
function shortNameHint(facts: ClusterFacts, opts: ClusterExplainOptions, lname: string, qtype: number): PluginExplanation | null {
  const zone = opts.zones.find((z) => z !== '' && !opts.reverseZones.includes(z));
  if (zone === undefined || lname === '') return null;
  const candidate = `${lname}.svc.${zone}`;
  const kind = parseName(candidate, zone, false).kind;
  if (kind !== 'service' && kind !== 'endpoint' && kind !== 'port') return null;
  const inner = explainClusterName(facts, opts, candidate, qtype);
  if (inner === null) return null;
  return {
    plugin: 'kubernetes',
    summary: `not a cluster name; in a pod, the search list makes ${candidate} one of the resolver's tries: ${inner.summary}`,
    lines: [`as ${candidate}:`, ...inner.lines.map((l) => `  ${l}`)],
    data: { shortName: lname, candidate, searchDomain: `svc.${zone}`, explanation: inner.data },
  };
}

function reason(facts: ClusterFacts, opts: ClusterExplainOptions, x: ClusterExplanation, qtype: number): void {
  const a = x.asked;
  switch (a.kind) {
    case 'none':
      x.missing = { piece: 'name', why: 'the name does not follow the cluster DNS schema (<svc>.<ns>.svc, <label>.<svc>.<ns>.svc, _<port>._<proto>.<svc>.<ns>.svc, <ip>.<ns>.pod)' };
      return;
    case 'apex': case 'dns-version': case 'ns-name': case 'empty':
      x.notes.push(`a name of the zone itself (${a.kind}): answered from the configuration, not from cluster objects`);
      return;
    case 'namespace': {
      if (a.space === 'pod' && opts.pods === 'disabled') { x.missing = { piece: 'pod', why: 'pod records are off (pods disabled)' }; return; }
      x.namespace = namespaceFacts(facts, opts, a.ns);
      if (!x.namespace.exposed) x.missing = { piece: 'namespace', why: x.namespace.why ?? 'not exposed' };
      else x.notes.push('a namespace name exists but holds no records itself: NODATA');
      return;
    }
    case 'pod':
      podReason(facts, opts, x, a);
      return;
    case 'reverse':
      reverseReason(facts, x, a.ip);
      return;
    default:
      serviceReason(facts, opts, x, a, qtype);
  }
}

function namespaceFacts(facts: ClusterFacts, opts: ClusterExplainOptions, ns: string): NamespaceFacts {
  const rec = facts.namespaceRecord(ns);
  const exists = rec !== undefined || facts.serviceCount(ns) > 0;
  const out: NamespaceFacts = { name: ns, exists, exposed: false };
  if (opts.namespaces !== null && !opts.namespaces.has(ns)) {
    out.why = `namespace "${ns}" is excluded: not in \`namespaces ${[...opts.namespaces].join(' ')}\``;
  } else if (opts.namespaceLabels !== null && rec === undefined) {
    out.why = `namespace "${ns}" has no Namespace object, and \`namespace_labels ${opts.namespaceLabels.text}\` needs its labels`;
  } else if (opts.namespaceLabels !== null && rec !== undefined && !matchSelector(opts.namespaceLabels, rec.labels)) {
    out.why = `namespace "${ns}" is excluded: its labels {${labelText(rec.labels)}} do not match \`namespace_labels ${opts.namespaceLabels.text}\``;
  } else if (!exists) {
    out.why = `namespace "${ns}" does not exist (no Namespace object and no Service in it)`;
  } else {
    out.exposed = true;
  }
  return out;
}

const labelText = (l: Record<string, string>): string => Object.entries(l).map(([k, v]) => `${k}=${v}`).join(', ');

function podReason(facts: ClusterFacts, opts: ClusterExplainOptions, x: ClusterExplanation, a: Extract<Asked, { kind: 'pod' }>): void {
  if (opts.pods === 'disabled') { x.missing = { piece: 'pod', why: 'pod records are off (pods disabled)' }; return; }
  x.namespace = namespaceFacts(facts, opts, a.ns);
  if (!x.namespace.exposed) { x.missing = { piece: 'namespace', why: x.namespace.why ?? 'not exposed' }; return; }
  const ip = podIP(a.pod);
  if (ip === null) { x.missing = { piece: 'pod', why: `"${a.pod}" does not spell an IP address (1-2-3-4 or fd00--1)` }; return; }
  if (opts.pods === 'verified' && !facts.podAt(ip, a.ns)) {
    x.missing = { piece: 'pod', why: `pods verified: no pod with IP ${ip} in namespace "${a.ns}"` };
    return;
  }
  x.notes.push(`pods ${opts.pods}: answers ${ip}${opts.pods === 'insecure' ? ' without checking that such a pod exists' : ' (a pod with this IP exists)'}`);
}

function reverseReason(facts: ClusterFacts, x: ClusterExplanation, ip: string): void {
  const svcs = facts.servicesAt(ip).map((s) => `${s.namespace}/${s.name}`);
  if (svcs.length > 0) { x.notes.push(`${ip} is the cluster IP of ${svcs.join(', ')}`); return; }
  const eps = facts.endpointsAt(ip).map((e) => `${e.label} of ${e.svc.namespace}/${e.svc.name}`);
  if (eps.length > 0) { x.notes.push(`${ip} is the serving endpoint ${eps.join(', ')}`); return; }
  x.missing = { piece: 'address', why: `no service has cluster IP ${ip}, and no serving endpoint has it` };
}

function serviceReason(
  facts: ClusterFacts, opts: ClusterExplainOptions, x: ClusterExplanation,
  a: Extract<Asked, { kind: 'service' | 'endpoint' | 'port' }>, qtype: number,
): void {
  x.namespace = namespaceFacts(facts, opts, a.ns);
  if (!x.namespace.exposed) { x.missing = { piece: 'namespace', why: x.namespace.why ?? 'not exposed' }; return; }
  const svc = facts.service(a.ns, a.service);
  if (svc === undefined) {
    const why = `no Service "${a.service}" in namespace "${a.ns}"`;
    x.missing = { piece: 'service', why: opts.labels === null ? why : `${why} (services not matching \`labels ${opts.labels.text}\` are not kept, so it may exist and be excluded)` };
    return;
  }
  const port = a.kind === 'port' ? { name: a.port, proto: a.proto } : null;
  x.service = {
    namespace: svc.namespace, name: svc.name, type: svc.kind, clusterIPs: [...svc.clusterIPs], externalName: svc.externalName,
    publishNotReadyAddresses: svc.publishNotReadyAddresses,
    ports: svc.kind === 'ClusterIP' ? svc.ports.map((p) => portFacts(p, port, qtype)) : svc.ports.map((p) => ({ ...p, used: false, why: svc.kind === 'Headless' ? 'headless: records use the EndpointSlices\' ports' : 'ExternalName: only a CNAME, no ports' })),
  };
  if (svc.kind === 'ExternalName') {
    if (a.kind !== 'service') x.missing = { piece: a.kind, why: 'an ExternalName service has only its own name (a CNAME)' };
    else if (svc.externalName === '') x.missing = { piece: 'service', why: 'the ExternalName is empty or was invalid (dropped on arrival)' };
    else x.notes.push(`ExternalName: CNAME to ${svc.externalName}${qtype === QTYPE.A || qtype === QTYPE.AAAA ? ', whose addresses are looked up through the server' : ''}`);
    return;
  }
  if (opts.noEndpoints) x.notes.push('noendpoints: EndpointSlices are not watched');
  const slices = facts.slicesOf(svc.namespace, svc.name);
  const ep = explainEndpoints(svc, slices, a, qtype, opts.endpointPodNames, svc.kind === 'ClusterIP' && a.kind !== 'endpoint');
  x.slices = ep.slices;
  if (opts.ignoreEmptyService && svc.kind === 'ClusterIP' && ep.servingCount === 0) {
    x.missing = { piece: 'endpoint', why: 'ignore empty_service: the ClusterIP service has no serving endpoint' };
    return;
  }
  if (a.kind === 'port' && svc.kind === 'ClusterIP') {
    if (!x.service.ports.some((p) => p.used)) x.missing = { piece: 'port', why: `the service has no port named "${a.port}" with protocol ${a.proto.toUpperCase()}` };
    return;
  }
  if (svc.kind === 'ClusterIP' && a.kind === 'service') {
    if (qtype === QTYPE.SRV && !x.service.ports.some((p) => p.used)) x.notes.push('no named port: SRV has no records (NODATA)');
    return;
  }
  if (ep.missing !== null) x.missing = ep.missing;
}

/**
 * `web.demo.svc.cluster.local.demo.svc.cluster.local`: a resolver appended
 * a search domain (<ns>.svc.<zone>, svc.<zone>, <zone>) to a name that had
 * fewer dots than `ndots` and no trailing dot.
 */
export function searchExpansion(lname: string, zone: string, opts: Pick<ClusterExplainOptions, 'zones'>): ClusterExplanation['searchPath'] | null {
  if (zone === '') return null;
  const rest = stripZone(lname, zone);
  const labels = rest.split('.');
  const n = labels.length;
  const tries: Array<{ original: string; searchDomain: string }> = [];
  if (n >= 3 && labels[n - 1] === 'svc') tries.push({ original: labels.slice(0, n - 2).join('.'), searchDomain: `${labels[n - 2]}.svc.${zone}` });
  if (n >= 2 && labels[n - 1] === 'svc') tries.push({ original: labels.slice(0, n - 1).join('.'), searchDomain: `svc.${zone}` });
  tries.push({ original: rest, searchDomain: zone });
  for (const t of tries) {
    const inZone = opts.zones.find((z) => z !== '' && isSubdomain(t.original, z));
    if (inZone !== undefined) {
      return { ...t, hint: `looks like a search-path expansion of ${t.original}. (search domain ${t.searchDomain}): the client sent a name with fewer dots than ndots and no trailing dot; the resolver goes on to try the name as given, or query "${t.original}." with a trailing dot` };
    }
  }
  const first = tries[0];
  if (first !== undefined && first.original.includes('.') && parseName(`${first.original}.svc.${zone}`, zone, false).kind !== 'none') {
    return { ...first, hint: `looks like the first search-path try for ${first.original}; the resolver tries ${first.original}.svc.${zone} next` };
  }
  return null;
}

function summary(x: ClusterExplanation): string {
  if (x.missing !== undefined) return `${x.synced ? 'NXDOMAIN' : 'SERVFAIL (not synced)'}: ${x.missing.piece} missing: ${x.missing.why}`;
  const s = x.service;
  if (s === undefined) return `${x.asked.kind} name in zone ${x.zone}`;
  const all = (x.slices ?? []).flatMap((sl) => sl.endpoints);
  const used = all.filter((e) => e.used).length;
  const what = `Service ${s.namespace}/${s.name} (${s.type}${s.clusterIPs.length > 0 ? ` ${s.clusterIPs.join(',')}` : ''})`;
  const count = `${used} of ${all.length} endpoint address${all.length === 1 ? '' : 'es'}`;
  if (all.length === 0) return what;
  return s.type === 'ClusterIP' && x.asked.kind !== 'endpoint' ? `${what}, backed by ${count}` : `${what}: ${count} in the answer`;
}

function lines(x: ClusterExplanation): string[] {
  const out: string[] = [];
  out.push(`zone ${x.zone}: asks for ${describe(x.asked)}`);
  if (x.namespace) out.push(`namespace ${x.namespace.name}: ${x.namespace.exposed ? 'exposed' : x.namespace.why ?? 'not exposed'}`);
  const s = x.service;
  if (s) {
    out.push(`Service ${s.namespace}/${s.name}: type ${s.type}${s.clusterIPs.length > 0 ? `, cluster IP ${s.clusterIPs.join(', ')}` : ''}${s.externalName ? `, externalName ${s.externalName}` : ''}${s.publishNotReadyAddresses ? ', publishNotReadyAddresses' : ''}`);
    for (const p of s.ports) out.push(`  port ${portText(p)}: ${p.used ? 'used' : `left out: ${p.why ?? ''}`}`);
  }
  for (const sl of x.slices ?? []) {
    out.push(`EndpointSlice ${sl.name}: ports ${sl.ports.map(portText).join(', ') || '(none)'}`);
    for (const p of sl.ports) if (!p.used && p.why) out.push(`  port ${portText(p)}: left out: ${p.why}`);
    for (const e of sl.endpoints) {
      const who = [e.hostname ? `hostname ${e.hostname}` : 'no hostname', e.podName ? `pod ${e.podName}` : ''].filter(Boolean).join(', ');
      out.push(`  endpoint ${e.ip} (${e.ready ? 'ready' : 'not ready'}; ${who}; label ${e.label}): ${e.used ? 'used' : `left out: ${e.why ?? ''}`}`);
    }
  }
  if (x.service && x.slices?.length === 0 && x.service.type !== 'ExternalName') out.push('no EndpointSlice for this service');
  if (x.missing) out.push(`missing ${x.missing.piece}: ${x.missing.why}`);
  if (x.searchPath) out.push(`search path: ${x.searchPath.hint}`);
  for (const n of x.notes) out.push(`note: ${n}`);
  return out;
}

function portText(p: { name: string; protocol: string; port: number }): string {
  return `${p.name || '(unnamed)'}/${p.protocol} ${p.port}`;
}

function describe(a: Asked): string {
  switch (a.kind) {
    case 'service': return `service ${a.service} in namespace ${a.ns}`;
    case 'endpoint': return `endpoint "${a.endpoint}" of service ${a.service} in namespace ${a.ns}`;
    case 'port': return `port _${a.port}._${a.proto} of service ${a.service} in namespace ${a.ns}`;
    case 'namespace': return `namespace ${a.ns} (${a.space})`;
    case 'pod': return `pod ${a.pod} in namespace ${a.ns}`;
    case 'reverse': return `the address ${a.ip} (PTR)`;
    case 'none': return 'nothing the cluster schema defines';
    default: return a.kind;
  }
}
