// One zone's records, indexed for lookups, and the RFC 1034 4.3.2 lookup:
// zone cuts, exact names, empty non-terminals, wildcards (RFC 4592).

import { QTYPE } from '../../dns/constants.js';
import { isSubdomain } from '../../dns/names.js';
import type { RR } from '../../dns/reply.js';
import { parentName, TYPE_CODES } from './rdata.js';
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
  /** Names below the origin holding NS: delegations. */
  private readonly cuts = new Map<string, RR[]>();

  constructor(readonly origin: string, parsed: ParsedZone, file: string) {
    let soa: RR | null = null;
    // Records already held, to keep one copy of a repeated record; dropped after loading.
    const seen = new Set<string>();
    for (const { rr, line } of parsed.records) {
      if (rr.type === 'SOA') {
        if (rr.name !== origin) {
          throw new ZoneError(file, line, `SOA record for ${rr.name}. in zone "${origin}.": a zone's SOA is at its origin; name the zone in the directive (file DBFILE ${rr.name}) or the server block`);
        }
        if (soa !== null) throw new ZoneError(file, line, `a second SOA record for ${origin}.; a zone has one`);
        soa = rr;
      }
      this.add(rr, seen);
    }
    if (soa === null) {
      const line = parsed.records[0]?.line ?? 1;
      throw new ZoneError(file, line, `the zone has no SOA record at its origin ${origin}. (RFC 1035: the SOA comes first)`);
    }
    this.soa = soa;
    this.serial = (soa as { data: { serial: number } }).data.serial;
    this.nameServers = this.nodes.get(origin)?.get(QTYPE.NS) ?? [];
    for (const [name, node] of this.nodes) {
      const ns = node.get(QTYPE.NS);
      if (ns !== undefined && name !== origin) this.cuts.set(name, ns);
    }
  }

  private add(rr: RR, seen: Set<string>): void {
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
    const key = `${rr.name} ${code} ${JSON.stringify((rr as { data: unknown }).data)}`;
    if (seen.has(key)) return;
    seen.add(key);
    let set = node.get(code);
    if (set === undefined) node.set(code, set = []);
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
    if (this.cuts.size > 0) {
      const cut = this.cutAbove(qname, qtype);
      if (cut !== null) return { kind: 'referral', authority: cut.ns, additional: this.glue(cut.ns, cut.name) };
    }
    const node = this.nodes.get(qname);
    if (node !== undefined) return this.fromNode(node, qname, qtype, false);
    if (this.parents.has(qname)) return { kind: 'nodata', authority: soa, ent: true };
    // RFC 4592: the source of synthesis is "*." + the closest encloser, which exists (records or ENT).
    let ce = parentName(qname);
    while (ce !== this.origin && ce !== '' && !this.nodes.has(ce) && !this.parents.has(ce)) ce = parentName(ce);
    const wild = ce === '' ? '*' : `*.${ce}`;
    const wnode = this.nodes.get(wild);
    if (wnode !== undefined) return this.fromNode(wnode, qname, qtype, true);
    if (this.parents.has(wild)) return { kind: 'nodata', authority: soa, ent: false };
    return { kind: 'nxdomain', authority: soa };
  }

  /** The highest zone cut at or above qname (below the origin), or null. */
  private cutAbove(qname: string, qtype: number): { name: string; ns: RR[] } | null {
    let top: { name: string; ns: RR[] } | null = null;
    for (let n = qname; n !== this.origin && n !== ''; n = parentName(n)) {
      const ns = this.cuts.get(n);
      // DS lives on the parent's side of the cut (RFC 4035 3.1.4.1): the cut itself answers it.
      if (ns !== undefined && !(qtype === DS && n === qname)) top = { name: n, ns };
    }
    return top;
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
    let seen: Set<string> | null = null;
    for (const rr of answer) {
      if (rr.type !== 'MX' && rr.type !== 'SRV') continue;
      const d = (rr as { data: unknown }).data as { exchange?: string; target?: string } | null;
      const t = rr.type === 'MX' ? d?.exchange : d?.target;
      if (t === undefined) continue;
      const target = t.toLowerCase();
      seen ??= new Set();
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
