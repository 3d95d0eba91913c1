// What a zone transfer of a cluster zone holds (the `transfer` plugin asks
// KubernetesPlugin.transfer). As CoreDNS's kubernetes xfr: the SOA, the NS
// record and its glue, then per exposed service (by name): its A/AAAA
// records, its SRV records, a headless service's endpoint records, an
// ExternalName's CNAME. Pod records (x-x-x-x.ns.pod) are not listed, as in
// CoreDNS. Every record is the one a query for its name gets, so a transfer
// never disagrees with the answers.

import { QTYPE } from '../../dns/constants.js';
import type { RR } from '../../dns/reply.js';
import type { Answerer } from './answer.js';
import type { Service, Store } from './store.js';

const join = (label: string, zone: string): string => (zone === '' ? label : `${label}.${zone}`);

/** Every record of forward zone `zone`, the SOA first and once (read-only: walks the store, asks `answers`). */
export function* transferRecords(store: Store, answers: Answerer, zone: string): Iterable<RR> {
  yield answers.zone(zone).soa;
  const ns = answers.lookup(zone, QTYPE.NS, zone).reply;
  yield* ns.answer;
  yield* ns.additional;
  const services = [...store.allServices()]
    .filter((s) => store.namespaceExposed(s.namespace))
    .sort((a, b) => (a.name === b.name ? cmp(a.namespace, b.namespace) : cmp(a.name, b.name)));
  for (const svc of services) yield* serviceRecords(store, answers, svc, zone);
}

function* serviceRecords(store: Store, answers: Answerer, svc: Service, zone: string): Iterable<RR> {
  const owner = join(`${svc.name}.${svc.namespace}.svc`, zone);
  const owned = function* (name: string, qtype: number, type: string): Iterable<RR> {
    for (const rr of answers.lookup(name, qtype, zone).reply.answer) if (rr.name === name && rr.type === type) yield rr;
  };
  if (svc.kind === 'ExternalName') {
    yield* owned(owner, QTYPE.CNAME, 'CNAME');
    return;
  }
  yield* owned(owner, QTYPE.A, 'A');
  yield* owned(owner, QTYPE.AAAA, 'AAAA');
  yield* owned(owner, QTYPE.SRV, 'SRV');
  const view = svc.kind === 'ClusterIP' ? null : store.view(svc);
  const ports = new Map<string, string>();
  for (const p of view === null ? svc.ports : view.entries.flatMap((e) => e.ports)) {
    if (p.name !== '') ports.set(`${p.protocol}/${p.name}`.toLowerCase(), join(`_${p.name}._${p.protocol}`.toLowerCase(), owner));
  }
  for (const name of ports.values()) yield* owned(name, QTYPE.SRV, 'SRV');
  if (view === null) return;
  const labels = new Set(view.entries.map((e) => e.label));
  for (const label of labels) {
    const name = join(label, owner);
    yield* owned(name, QTYPE.A, 'A');
    yield* owned(name, QTYPE.AAAA, 'AAAA');
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
