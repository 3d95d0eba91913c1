import type { Fallthrough } from '../../corefile/fallthrough.js';
import { QTYPE, RCODE } from '../../dns/constants.js';
import { isSubdomain, stripZone } from '../../dns/names.js';
import { sectionsOf } from '../../dns/relay.js';
import { records, type Reply, type RR } from '../../dns/reply.js';
import { isIPv4, isIPv6 } from 'node:net';
import type { Handler, Plugin, Request, SetupContext } from '../../server/plugin.js';
import type { KubernetesPlugin } from '../kubernetes/kubernetes.js';
import { findExternal, type Hit } from './lookup.js';

export interface ExternalOptions {
  /** Longest first. */
  zones: string[];
  apex: string;
  ttl: number;
  headless: boolean;
  fallthrough: Fallthrough;
}

const BY = 'k8s_external';
const join = (label: string, zone: string): string => (zone === '' ? label : `${label}.${zone}`);

/**
 * Answers the external addresses of Services (spec.externalIPs and
 * LoadBalancer ingress) in zones of its own (CoreDNS plugin/k8s_external),
 * from the kubernetes plugin's store. The zone's apex has an SOA and an NS
 * `ns1.<apex>.<zone>` whose addresses are this server's.
 */
export class ExternalPlugin implements Plugin {
  readonly name = BY;
  private kube: KubernetesPlugin | null = null;

  constructor(private readonly o: ExternalOptions, private readonly bind: () => KubernetesPlugin, private readonly resolve: SetupContext['resolve']) {}

  start(): void {
    this.kube = this.bind();
  }

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    const lname = req.lname;
    const zone = this.o.zones.find((z) => isSubdomain(lname, z));
    if (zone === undefined) return next(req);
    this.kube ??= this.bind();
    if (lname === zone) return this.apex(zone, req.type);
    if (isSubdomain(lname, join(this.o.apex, zone))) return this.subApex(lname, zone, req.type);

    const found = findExternal(this.kube.answering, lname, zone, this.o.headless);
    if (found.hits.length === 0) {
      if (found.rcode === RCODE.NXDOMAIN && this.o.fallthrough.matches(lname)) return next(req);
      return this.negative(found.rcode, zone);
    }
    switch (req.type) {
      case QTYPE.A: return this.addresses(req.name, found.hits, 'A', zone);
      case QTYPE.AAAA: return this.addresses(req.name, found.hits, 'AAAA', zone);
      case QTYPE.SRV: return this.positive(this.srv(req.name, found.hits), zone);
      default: return this.negative(RCODE.NOERROR, zone);
    }
  }

  private soa(zone: string): RR {
    const serial = this.kube?.answering.serial ?? 0;
    return {
      name: zone, type: 'SOA', ttl: this.o.ttl,
      data: {
        mname: join(`ns1.${this.o.apex}`, zone), rname: join(`hostmaster.${this.o.apex}`, zone),
        serial: serial >>> 0, refresh: 7200, retry: 1800, expire: 86400, minimum: this.o.ttl,
      },
    } as RR;
  }

  private negative(rcode: number, zone: string): Reply {
    return records(rcode, BY, true, [], [this.soa(zone)]);
  }

  /** The answer, or NODATA with the SOA when the name has nothing of this type. */
  private positive(sections: { answer: RR[]; additional?: RR[] }, zone: string): Reply {
    if (sections.answer.length === 0) return this.negative(RCODE.NOERROR, zone);
    return records(RCODE.NOERROR, BY, true, sections.answer, [], sections.additional ?? []);
  }

  /** This server's addresses under `owner` (the ns1 glue). */
  private glue(owner: string, type: 'A' | 'AAAA' | null): RR[] {
    const out: RR[] = [];
    for (const ip of this.kube?.nameserverAddresses() ?? []) {
      const t = isIPv4(ip) ? 'A' : 'AAAA';
      if (type === null || type === t) out.push({ name: owner, type: t, ttl: this.o.ttl, data: ip } as RR);
    }
    return out;
  }

  private apex(zone: string, qtype: number): Reply {
    const ns1 = join(`ns1.${this.o.apex}`, zone);
    if (qtype === QTYPE.SOA) return this.positive({ answer: [this.soa(zone)] }, zone);
    if (qtype === QTYPE.NS) {
      return this.positive({ answer: [{ name: zone, type: 'NS', ttl: this.o.ttl, data: ns1 } as RR], additional: this.glue(ns1, null) }, zone);
    }
    return this.negative(RCODE.NOERROR, zone);
  }

  /** `<apex>.<zone>` is an empty non-terminal; `ns1.<apex>.<zone>` has this server's addresses; nothing else exists. */
  private subApex(lname: string, zone: string, qtype: number): Reply {
    const labels = stripZone(lname, zone).split('.');
    if (labels.length === 1) return this.negative(RCODE.NOERROR, zone);
    if (labels.length !== 2 || labels[0] !== 'ns1') return this.negative(RCODE.NXDOMAIN, zone);
    const type = qtype === QTYPE.A ? 'A' : qtype === QTYPE.AAAA ? 'AAAA' : null;
    return this.positive({ answer: type === null ? [] : this.glue(lname, type) }, zone);
  }

  /**
   * A or AAAA of the hits' addresses (each once). A LoadBalancer hostname
   * becomes a CNAME, followed through the server as CoreDNS's upstream does.
   */
  private addresses(qname: string, hits: readonly Hit[], type: 'A' | 'AAAA', zone: string): Reply | Promise<Reply> {
    const answer: RR[] = [];
    const hosts: string[] = [];
    const seen = new Set<string>();
    for (const h of hits) {
      if (seen.has(h.host)) continue;
      seen.add(h.host);
      if (isIPv4(h.host)) { if (type === 'A') answer.push({ name: qname, type, ttl: this.o.ttl, data: h.host } as RR); }
      else if (isIPv6(h.host)) { if (type === 'AAAA') answer.push({ name: qname, type, ttl: this.o.ttl, data: h.host } as RR); }
      else hosts.push(h.host);
    }
    if (hosts.length === 0) return this.positive({ answer }, zone);
    return this.chase(qname, hosts, type, answer, zone);
  }

  private async chase(qname: string, hosts: string[], type: 'A' | 'AAAA', answer: RR[], zone: string): Promise<Reply> {
    const ttl = this.kube?.opts.ttl ?? this.o.ttl;
    for (const host of hosts) {
      answer.push({ name: qname, type: 'CNAME', ttl, data: host } as RR);
      try {
        const r = await this.resolve(host, type === 'A' ? QTYPE.A : QTYPE.AAAA);
        const s = r.kind === 'relay' ? sectionsOf(r.wire, r.by) : r;
        if (s.rcode === RCODE.NOERROR) answer.push(...s.answer);
      } catch {
        // The CNAME alone still lets the client's resolver follow it.
      }
    }
    return this.positive({ answer }, zone);
  }

  /**
   * SRV as CoreDNS's k8s_external writes it: one record per (target, port),
   * weight 100/n over all n (address, port) pairs, TTL of the kubernetes
   * plugin; each target's addresses in the additional section.
   */
  private srv(qname: string, hits: readonly Hit[]): { answer: RR[]; additional: RR[] } {
    const answer: RR[] = [];
    const additional: RR[] = [];
    const weight = Math.max(1, Math.floor(100 / hits.length));
    const ttl = this.kube?.opts.ttl ?? this.o.ttl;
    const seen = new Set<string>();
    for (const h of hits) {
      if (h.port === -1) continue;
      const ip = isIPv4(h.host) ? 'A' : isIPv6(h.host) ? 'AAAA' : null;
      const target = ip === null ? h.host : h.target;
      const key = `${target} ${h.port}`;
      if (!seen.has(key)) {
        seen.add(key);
        answer.push({ name: qname, type: 'SRV', ttl, data: { priority: 0, weight, port: h.port, target } } as RR);
      }
      const glueKey = `${target} ${h.host}`;
      if (ip !== null && !seen.has(glueKey)) {
        seen.add(glueKey);
        additional.push({ name: target, type: ip, ttl: this.o.ttl, data: h.host } as RR);
      }
    }
    return { answer, additional };
  }
}
