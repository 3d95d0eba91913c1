// The answers of the Kubernetes DNS specification (and CoreDNS where the
// spec is silent), computed from the store and memoized.
//
// Memo: per (lower-case name, qtype), the finished Reply (plus the CNAME
// target still to chase for ExternalName A/AAAA). Every store change bumps
// store.gen; the first lookup that sees a new generation drops the whole
// memo (and the per-zone SOA/negative replies, whose serial changed). This
// is coarse but simple and always correct: an answer never outlives the
// state it was computed from. The memo is bounded (MAX_MEMO entries) and
// evicts the least recently used (approximately, see answer-memo.ts): a
// flood of random names (every one an NXDOMAIN to remember) pushes out only
// entries nobody asks for, where a whole-memo clear at the bound made every
// real name a miss at once.
//
// Replies are shared between queries: nothing downstream mutates them (the
// encoder only reads). Owner names are the lower-case query name; the
// encoder compresses them into a pointer at the question, so the client's
// spelling comes back.

import { QTYPE, RCODE } from '../../dns/constants.js';
import { records, reusable, type RecordsReply, type RR } from '../../dns/reply.js';
import { AnswerMemo } from './answer-memo.js';
import { parseName, podIP, type Asked } from './names.js';
import type { PortRecord } from './objects.js';
import type { EndpointEntry, Service, Store } from './store.js';

export type PodMode = 'disabled' | 'insecure' | 'verified';

export interface AnswerConfig {
  /** Zone used in PTR targets: the first forward zone. */
  primaryZone: string;
  ttl: number;
  pods: PodMode;
  ignoreEmptyService: boolean;
  /** Addresses of ns.dns.<zone>: the server's own. */
  nsAddresses: () => readonly string[];
}

export interface Computed {
  reply: RecordsReply;
  /** ExternalName A/AAAA: the CNAME target still to resolve; null otherwise. */
  chase: string | null;
}

const MAX_MEMO = 50_000;
export const SCHEMA_VERSION = '1.1.0';
const VERSION_TTL = 28800;

const join = (label: string, zone: string): string => (zone === '' ? label : `${label}.${zone}`);
const isV6 = (ip: string): boolean => ip.includes(':');

interface ZoneReplies { soa: RR; nxdomain: RecordsReply; nodata: RecordsReply; servfail: RecordsReply }

export class Answerer {
  private memo = new AnswerMemo<Computed>(MAX_MEMO);
  private memoGen = -1;
  private zoneReplies = new Map<string, ZoneReplies>();
  private readonly negTtl: number;
  private readonly reverseZones: Set<string>;

  constructor(private readonly store: Store, private readonly cfg: AnswerConfig, reverseZones: Iterable<string>) {
    this.negTtl = Math.min(cfg.ttl, 300);
    this.reverseZones = new Set(reverseZones);
  }

  /** The memoized answer for a name at or below `zone` (one of cfg.zones). */
  lookup(lname: string, qtype: number, zone: string): Computed {
    this.fresh();
    let c = this.memo.get(qtype, lname);
    if (c !== undefined) return c;
    c = this.compute(lname, qtype, zone);
    // A finished answer gets its own Reply (sections still shared), so the
    // server can keep its wire encoding for this one question.
    if (c.chase === null) {
      const r = c.reply;
      c = { reply: reusable(r.rcode, r.by, r.aa, r.answer, r.authority, r.additional), chase: null };
    }
    this.memo.set(qtype, lname, c);
    return c;
  }

  /** Entries in the answer memo (tests, benchmarks). */
  get memoSize(): number {
    return this.memo.size;
  }

  /** Shared negative / failure replies of a zone (SOA in authority, AA set). */
  zone(zone: string): ZoneReplies {
    this.fresh();
    let z = this.zoneReplies.get(zone);
    if (z !== undefined) return z;
    const soa = this.soa(zone);
    const authority = [soa];
    z = {
      soa,
      nxdomain: records(RCODE.NXDOMAIN, 'kubernetes', true, [], authority),
      nodata: records(RCODE.NOERROR, 'kubernetes', true, [], authority),
      servfail: records(RCODE.SERVFAIL, 'kubernetes', true, [], authority),
    };
    this.zoneReplies.set(zone, z);
    return z;
  }

  private fresh(): void {
    const gen = this.store.gen;
    if (gen === this.memoGen) return;
    this.memo.clear();
    this.zoneReplies.clear();
    this.memoGen = gen;
  }

  private soa(zone: string): RR {
    return {
      name: zone,
      type: 'SOA',
      ttl: this.negTtl,
      data: {
        mname: join('ns.dns', zone),
        rname: join('hostmaster', zone),
        serial: this.store.serial >>> 0,
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        // As CoreDNS: the record's TTL is capped at 300 s, the minimum field is the configured ttl.
        minimum: this.cfg.ttl,
      },
    } as RR;
  }

  // ---- computing --------------------------------------------------------

  private compute(lname: string, qtype: number, zone: string): Computed {
    const asked = parseName(lname, zone, this.reverseZones.has(zone));
    return this.answerFor(asked, lname, qtype, zone);
  }

  private answerFor(a: Asked, lname: string, qtype: number, zone: string): Computed {
    const z = this.zone(zone);
    const nx: Computed = { reply: z.nxdomain, chase: null };
    const nodata: Computed = { reply: z.nodata, chase: null };
    switch (a.kind) {
      case 'none':
        return nx;
      case 'apex':
        if (qtype === QTYPE.SOA) return this.positive([z.soa]);
        if (qtype === QTYPE.NS) return this.nsAnswer(zone);
        return nodata;
      case 'dns-version':
        if (qtype !== QTYPE.TXT) return nodata;
        return this.positive([{ name: lname, type: 'TXT', ttl: VERSION_TTL, data: SCHEMA_VERSION } as RR]);
      case 'ns-name': {
        if (qtype !== QTYPE.A && qtype !== QTYPE.AAAA) return nodata;
        const rrs = this.addressRecords(lname, this.cfg.nsAddresses(), qtype);
        return rrs.length > 0 ? this.positive(rrs) : nodata;
      }
      case 'empty':
        return nodata;
      case 'namespace':
        if (a.space === 'pod' && this.cfg.pods === 'disabled') return nx;
        return this.store.namespaceExposed(a.ns) ? nodata : nx;
      case 'pod':
        return this.podAnswer(a.ns, a.pod, lname, qtype, nx, nodata);
      case 'reverse':
        return this.reverseAnswer(a.ip, lname, qtype, nx, nodata);
      case 'service':
      case 'endpoint':
      case 'port':
        return this.serviceAnswer(a, lname, qtype, zone, nx, nodata);
    }
  }

  private positive(answer: RR[], additional: RR[] = []): Computed {
    return { reply: records(RCODE.NOERROR, 'kubernetes', true, answer, [], additional), chase: null };
  }

  private addressRecords(owner: string, ips: readonly string[], qtype: number): RR[] {
    const out: RR[] = [];
    const want6 = qtype === QTYPE.AAAA;
    for (const ip of ips) {
      if (isV6(ip) !== want6) continue;
      out.push({ name: owner, type: want6 ? 'AAAA' : 'A', ttl: this.cfg.ttl, data: ip } as RR);
    }
    return out;
  }

  private glue(owner: string, ip: string): RR {
    return { name: owner, type: isV6(ip) ? 'AAAA' : 'A', ttl: this.cfg.ttl, data: ip } as RR;
  }

  private nsAnswer(zone: string): Computed {
    const target = join('ns.dns', zone);
    const ns = { name: zone, type: 'NS', ttl: this.cfg.ttl, data: target } as RR;
    const extra = this.cfg.nsAddresses().map((ip) => this.glue(target, ip));
    return this.positive([ns], extra);
  }

  private podAnswer(ns: string, pod: string, lname: string, qtype: number, nx: Computed, nodata: Computed): Computed {
    if (this.cfg.pods === 'disabled') return nx;
    if (!this.store.namespaceExposed(ns)) return nx;
    const ip = podIP(pod);
    if (ip === null) return nx;
    if (this.cfg.pods === 'verified' && !this.store.podAt(ip, ns)) return nx;
    if (qtype !== QTYPE.A && qtype !== QTYPE.AAAA) return nodata;
    const rrs = this.addressRecords(lname, [ip], qtype);
    return rrs.length > 0 ? this.positive(rrs) : nodata;
  }

  private reverseAnswer(ip: string, lname: string, qtype: number, nx: Computed, nodata: Computed): Computed {
    const targets: string[] = [];
    const primary = this.cfg.primaryZone;
    for (const s of this.store.servicesAt(ip)) {
      if (!this.store.namespaceExposed(s.namespace)) continue;
      targets.push(join(`${s.name}.${s.namespace}.svc`, primary));
    }
    if (targets.length === 0) {
      for (const { svc, label } of this.store.endpointsAt(ip)) {
        if (!this.store.namespaceExposed(svc.namespace)) continue;
        const t = join(`${label}.${svc.name}.${svc.namespace}.svc`, primary);
        if (!targets.includes(t)) targets.push(t);
      }
    }
    if (targets.length === 0) return nx;
    if (qtype !== QTYPE.PTR) return nodata;
    return this.positive(targets.map((t) => ({ name: lname, type: 'PTR', ttl: this.cfg.ttl, data: t }) as RR));
  }

  private serviceAnswer(
    a: Extract<Asked, { kind: 'service' | 'endpoint' | 'port' }>,
    lname: string, qtype: number, zone: string, nx: Computed, nodata: Computed,
  ): Computed {
    if (!this.store.namespaceExposed(a.ns)) return nx;
    const svc = this.store.service(a.ns, a.service);
    if (svc === undefined) return nx;
    const svcName = join(`${svc.name}.${svc.namespace}.svc`, zone);

    if (svc.kind === 'ExternalName') {
      // A CNAME owns its name: every type gets it; only the bare service name exists.
      if (a.kind !== 'service' || svc.externalName === '') return nx;
      // ANY: as CoreDNS (which looks the name up as A and keeps only whether it exists), NODATA.
      if (qtype === QTYPE.ANY) return nodata;
      const cname = { name: lname, type: 'CNAME', ttl: this.cfg.ttl, data: svc.externalName } as RR;
      const c = this.positive([cname]);
      if ((qtype === QTYPE.A || qtype === QTYPE.AAAA) && svc.externalName !== lname) c.chase = svc.externalName;
      return c;
    }

    if (this.cfg.ignoreEmptyService && svc.kind === 'ClusterIP' && !this.store.hasEndpoints(svc)) return nx;

    if (a.kind === 'endpoint') {
      const eps = this.store.view(svc).byLabel(a.endpoint);
      if (eps === undefined) return nx;
      return this.endpointsAnswer(eps, svc, lname, qtype, zone, nodata, null);
    }

    if (a.kind === 'port') {
      const match = (p: { name: string; protocol: string }) => p.name.toLowerCase() === a.port && p.protocol.toLowerCase() === a.proto;
      if (svc.kind === 'ClusterIP') {
        const ports = svc.ports.filter(match);
        if (ports.length === 0) return nx;
        return this.clusterIPAnswer(svc, svcName, ports, lname, qtype, nodata);
      }
      const eps = this.store.view(svc).entries.filter((e) => e.ports.some(match));
      if (eps.length === 0) return nx;
      return this.endpointsAnswer(eps, svc, lname, qtype, zone, nodata, match);
    }

    if (svc.kind === 'ClusterIP') {
      return this.clusterIPAnswer(svc, svcName, svc.ports.filter((p) => p.name !== ''), lname, qtype, nodata);
    }
    // Headless: the name exists while it has serving endpoints.
    const view = this.store.view(svc);
    if (view.entries.length === 0) return nx;
    return this.endpointsAnswer(view.entries, svc, lname, qtype, zone, nodata, null);
  }

  private clusterIPAnswer(
    svc: Service, svcName: string, ports: readonly PortRecord[], lname: string, qtype: number, nodata: Computed,
  ): Computed {
    if (qtype === QTYPE.A || qtype === QTYPE.AAAA) {
      const rrs = this.addressRecords(lname, svc.clusterIPs, qtype);
      return rrs.length > 0 ? this.positive(rrs) : nodata;
    }
    if (qtype !== QTYPE.SRV) return nodata;
    const named = ports.filter((p) => p.name !== '');
    if (named.length === 0) return nodata;
    const weight = srvWeight(named.length);
    const answer = named.map((p) => this.srv(lname, weight, p.port, svcName));
    const additional = svc.clusterIPs.map((ip) => this.glue(svcName, ip));
    return this.positive(answer, additional);
  }

  private endpointsAnswer(
    eps: readonly EndpointEntry[], svc: Service, lname: string, qtype: number, zone: string, nodata: Computed,
    portFilter: ((p: { name: string; protocol: string }) => boolean) | null,
  ): Computed {
    if (qtype === QTYPE.A || qtype === QTYPE.AAAA) {
      const rrs = this.addressRecords(lname, eps.map((e) => e.ip), qtype);
      return rrs.length > 0 ? this.positive(rrs) : nodata;
    }
    if (qtype !== QTYPE.SRV) return nodata;
    // As CoreDNS: one SRV per (target, port), but glue for every address of a
    // target: a dual-stack endpoint (an IPv4 and an IPv6 slice naming the same
    // hostname) or a hostname repeated across endpoints shares one SRV target
    // and must bring all of its A and AAAA records. The weight counts every
    // (address, port) pair before the SRV records are deduplicated, as
    // CoreDNS's does.
    const wanted = (p: PortRecord): boolean => p.name !== '' && (portFilter === null || portFilter(p));
    let pairs = 0;
    for (const e of eps) for (const p of e.ports) if (wanted(p)) pairs++;
    if (pairs === 0) return nodata;
    const weight = srvWeight(pairs);
    const answer: RR[] = [];
    const additional: RR[] = [];
    const seen = new Set<string>();
    for (const e of eps) {
      const target = join(`${e.label}.${svc.name}.${svc.namespace}.svc`, zone);
      let published = false;
      for (const p of e.ports) {
        if (!wanted(p)) continue;
        published = true;
        const id = `${target}|${p.port}`;
        if (seen.has(id)) continue;
        seen.add(id);
        answer.push(this.srv(lname, weight, p.port, target));
      }
      const glue = `${target}|${e.ip}`;
      if (!published || seen.has(glue)) continue;
      seen.add(glue);
      additional.push(this.glue(target, e.ip));
    }
    return this.positive(answer, additional);
  }

  private srv(owner: string, weight: number, port: number, target: string): RR {
    return { name: owner, type: 'SRV', ttl: this.cfg.ttl, data: { priority: 0, weight, port, target } } as RR;
  }
}

/** CoreDNS: equal shares of 100 among the records of one priority, at least 1. */
export function srvWeight(n: number): number {
  return Math.max(1, Math.floor(100 / n));
}
