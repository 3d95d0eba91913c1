// One zone's records, indexed for lookups, and the RFC 1034 4.3.2 lookup:
// zone cuts, exact names, empty non-terminals, wildcards (RFC 4592).

import { QTYPE } from '../../dns/constants.js';
import { isSubdomain, stripZone } from '../../dns/names.js';
import type { RR } from '../../dns/reply.js';
import { parentName, splitLabels, TYPE_CODES } from './rdata.js';
import { type ParsedZone, ZoneError } from './zone-parse.js';

const DS = 43;

/** What the zone says about a name and type, before CNAME chasing. */
export type Lookup =
  | { kind: 'answer'; answer: RR[]; authority: RR[]; additional: RR[] }
  /** The name exists (or is an empty non-terminal, `ent`) without the type: SOA in authority. */
  | { kind: 'nodata'; authority: RR[]; ent: boolean }
  | { kind: 'nxdomain'; authority: RR[] }
  /** At or below a zone cut: the cut's NS, glue in additional. */
  | { kind: 'referral'; authority: RR[]; additional: RR[] }
  /** The name (or the wildcard it matched) holds a CNAME: owner already the asked name. */
  | { kind: 'cname'; cname: RR[]; target: string };

type Node = Map<number, RR[]>;

export class Zone {
  readonly soa: RR;
  readonly serial: number;
  /** The apex NS records (authority of positive answers, as CoreDNS). */
  readonly nameServers: RR[];
  private readonly nodes = new Map<string, Node>();
  /** Names with something below them: every proper ancestor of an owner, down to the origin. */
  private readonly parents = new Set<string>();
  private readonly ordered: RR[] = [];

  constructor(readonly origin: string, parsed: ParsedZone, file: string) {
    let soa: RR | null = null;
    for (const { rr, line } of parsed.records) {
      if (rr.type === 'SOA') {
        if (rr.name !== origin) throw new ZoneError(file, line, `SOA record for ${rr.name}.: the zone's SOA belongs at its origin ${origin}.`);
        if (soa !== null) throw new ZoneError(file, line, `a second SOA record for ${origin}.; a zone has one`);
        soa = rr;
      }
      this.add(rr);
    }
    if (soa === null) {
      const line = parsed.records[0]?.line ?? 1;
      throw new ZoneError(file, line, `the zone has no SOA record at its origin ${origin}. (RFC 1035: the SOA comes first)`);
    }
    this.soa = soa;
    this.serial = (soa as { data: { serial: number } }).data.serial;
    this.nameServers = this.nodes.get(origin)?.get(QTYPE.NS) ?? [];
  }

  private add(rr: RR): void {
    const code = TYPE_CODES[rr.type] ?? 0;
    let node = this.nodes.get(rr.name);
    if (node === undefined) {
      this.nodes.set(rr.name, node = new Map());
      for (let n = rr.name; n !== this.origin && n !== '';) {
        n = parentName(n);
        if (this.parents.has(n)) break;
        this.parents.add(n);
      }
    }
    let set = node.get(code);
    if (set === undefined) node.set(code, set = []);
    const key = JSON.stringify((rr as { data: unknown }).data);
    if (set.some((x) => JSON.stringify((x as { data: unknown }).data) === key)) return;
    set.push(rr);
    this.ordered.push(rr);
  }

  /** Every record, SOA first then in file order: what a zone transfer sends. */
  *records(): Iterable<RR> {
    yield this.soa;
    for (const rr of this.ordered) if (rr !== this.soa) yield rr;
  }

  /** Looks up a lower-case name at or below the origin. */
  lookup(qname: string, qtype: number): Lookup {
    const soa = [this.soa];
    if (qname === this.origin) {
      if (qtype === QTYPE.SOA) return { kind: 'answer', answer: soa, authority: this.nameServers, additional: [] };
      if (qtype === QTYPE.NS && this.nameServers.length > 0) return { kind: 'answer', answer: this.nameServers, authority: [], additional: this.glue(this.nameServers, this.origin) };
    }
    // Names from just below the origin down to qname: the first holding NS is a zone cut.
    const chain: string[] = [];
    const labels = qname === this.origin ? [] : splitLabels(stripZone(qname, this.origin));
    let suffix = this.origin;
    for (const label of labels.reverse()) {
      suffix = suffix === '' ? label : `${label}.${suffix}`;
      chain.push(suffix);
      const ns = this.nodes.get(suffix)?.get(QTYPE.NS);
      // DS lives on the parent's side of the cut (RFC 4035 3.1.4.1): the cut itself answers it.
      if (ns !== undefined && !(qtype === DS && suffix === qname)) {
        return { kind: 'referral', authority: ns, additional: this.glue(ns, suffix) };
      }
    }
    const node = this.nodes.get(qname);
    if (node !== undefined) return this.fromNode(node, qname, qtype, false);
    if (this.parents.has(qname)) return { kind: 'nodata', authority: soa, ent: true };
    // RFC 4592: the source of synthesis is "*." + the closest encloser, which exists (records or ENT).
    let ce = this.origin;
    for (const name of chain.slice(0, -1).reverse()) {
      if (this.nodes.has(name) || this.parents.has(name)) { ce = name; break; }
    }
    const wild = ce === '' ? '*' : `*.${ce}`;
    const wnode = this.nodes.get(wild);
    if (wnode !== undefined) return this.fromNode(wnode, qname, qtype, true);
    if (this.parents.has(wild)) return { kind: 'nodata', authority: soa, ent: false };
    return { kind: 'nxdomain', authority: soa };
  }

  private fromNode(node: Node, qname: string, qtype: number, wildcard: boolean): Lookup {
    const own = (rrs: RR[]): RR[] => (wildcard ? rrs.map((rr) => ({ ...rr, name: qname }) as RR) : rrs);
    const cname = node.get(QTYPE.CNAME);
    if (cname !== undefined && qtype !== QTYPE.CNAME) {
      return { kind: 'cname', cname: own(cname), target: String((cname[0] as { data: unknown }).data) };
    }
    const rrs = node.get(qtype);
    if (rrs === undefined) return { kind: 'nodata', authority: [this.soa], ent: false };
    const answer = own(rrs);
    return { kind: 'answer', answer, authority: this.nameServers, additional: this.targets(answer) };
  }

  /** A and AAAA of the name servers inside `cut` (RFC 1034 4.2.1 glue). */
  glue(ns: RR[], cut: string): RR[] {
    const out: RR[] = [];
    for (const rr of ns) {
      const target = String((rr as { data: unknown }).data).toLowerCase();
      if (isSubdomain(target, cut)) out.push(...this.addresses(target));
    }
    return out;
  }

  /** A and AAAA of in-zone MX and SRV targets, once per target (as CoreDNS). */
  targets(answer: RR[]): RR[] {
    const out: RR[] = [];
    const seen = new Set<string>();
    for (const rr of answer) {
      const d = (rr as { data: unknown }).data as { exchange?: string; target?: string } | null;
      const t = rr.type === 'MX' ? d?.exchange : rr.type === 'SRV' ? d?.target : undefined;
      if (t === undefined) continue;
      const target = t.toLowerCase();
      if (seen.has(target) || !isSubdomain(target, this.origin)) continue;
      seen.add(target);
      out.push(...this.addresses(target));
    }
    return out;
  }

  private addresses(name: string): RR[] {
    const node = this.nodes.get(name);
    if (node === undefined) return [];
    return [...node.get(QTYPE.A) ?? [], ...node.get(QTYPE.AAAA) ?? []];
  }
}
