// The rules of a rewrite plugin. Each rule looks at the query as earlier
// rules left it, may change it (name, type, class, EDNS0 options) and may
// hand back response rules, which are applied to the answer on its way
// back, last rule first (as CoreDNS's ResponseReverter does).

import {
  ADDED_OPT_SIZE, EDNS0_NSID, EDNS0_SUBNET, subnetData, variableData,
  type OptRecord, type Variable, type VariableSource,
} from './edns.js';
import { remapRewriter, substitute, type NameTest, type StringRewriter } from './match.js';

export type Mode = 'stop' | 'continue';

/** What a rule asks of the answer. */
export type ResponseRule =
  /** Owner names of records. */
  | { kind: 'owner'; rewrite: StringRewriter }
  /** Names inside records: CNAME, DNAME, NS, PTR, MX, SRV, NAPTR targets, SOA mname. */
  | { kind: 'value'; rewrite: StringRewriter }
  /** TTLs clamped into [min, max]. */
  | { kind: 'ttl'; min: number; max: number }
  | { kind: 'rcode'; from: number; to: number }
  /** A CNAME whose target `retarget` maps gets the new target, and the records that follow are looked up anew. */
  | { kind: 'cname'; retarget: (target: string) => string | null; qtype: number };

/** The query as the rules see and change it. */
export class QueryState {
  /** The name rules match on: lower-case, absolute. */
  name: string;
  /** The question name to send (absolute), or null while the client's own spelling stands. */
  newName: string | null = null;
  type: number;
  qclass: number;
  ednsChanged = false;
  private opt: OptRecord | null | undefined;

  constructor(
    /** The client's question name, absolute, as spelled. */
    private readonly spelled: string,
    name: string,
    type: number,
    qclass: number,
    /** Reads the query's own OPT record, on the first EDNS0 rule only. */
    private readonly loadOpt: () => OptRecord | null,
    /** The listener and client facts {variables} read. */
    readonly source: Omit<VariableSource, 'qname' | 'qtype'>,
  ) {
    this.name = name;
    this.type = type;
    this.qclass = qclass;
  }

  setName(n: string): void {
    this.newName = n;
    this.name = n.toLowerCase();
  }

  /** The query's OPT record as it stands, or null. */
  currentOpt(): OptRecord | null {
    if (this.opt === undefined) this.opt = this.loadOpt();
    return this.opt;
  }

  /** The OPT record to edit: the query's own, or a new one (size 4096) when it had none. */
  editOpt(): OptRecord {
    let o = this.currentOpt();
    if (o === null) {
      o = { udpSize: ADDED_OPT_SIZE, ttl: 0, options: [] };
      this.opt = o;
    }
    this.ednsChanged = true;
    return o;
  }

  /** The question name as the next plugins see it (absolute, as spelled). */
  qname(): string {
    return this.newName ?? this.spelled;
  }
}

export interface Rule {
  readonly mode: Mode;
  /** What the rule did: null when it did not apply, else the response rules it adds (maybe none). */
  apply(q: QueryState): ResponseRule[] | null;
}

/** How a name rule turns a matching name into the new one; null when it does not match. */
export type NameRewrite = (name: string) => string | null;

export function exactRewrite(from: string, to: string): NameRewrite {
  return (n) => (n === from ? to : null);
}

export function prefixRewrite(prefix: string, to: string): NameRewrite {
  return (n) => (n.startsWith(prefix) ? to + n.slice(prefix.length) : null);
}

export function suffixRewrite(suffix: string, to: string): NameRewrite {
  return (n) => (n.endsWith(suffix) ? n.slice(0, n.length - suffix.length) + to : null);
}

export function substringRewrite(sub: string, to: string): NameRewrite {
  return (n) => (n.includes(sub) ? n.replaceAll(sub, to) : null);
}

export function regexRewrite(re: RegExp, to: string): NameRewrite {
  return (n) => {
    const m = re.exec(n);
    return m === null ? null : substitute(to, m);
  };
}

/**
 * `name` rules. With `auto`, names in the answer that are the rewritten
 * name (or below it) map back to the name before the rewrite; `fixed`
 * holds the explicit `answer name|value` rules (and a suffix rule's
 * reversed suffix).
 */
export class NameRule implements Rule {
  constructor(
    readonly mode: Mode,
    private readonly rewrite: NameRewrite,
    private readonly auto: boolean,
    private readonly fixed: ResponseRule[],
  ) {}

  apply(q: QueryState): ResponseRule[] | null {
    const before = q.name;
    const after = this.rewrite(before);
    if (after === null) return null;
    q.setName(after);
    if (!this.auto) return this.fixed;
    const back = remapRewriter(after, before);
    return [{ kind: 'owner', rewrite: back }, { kind: 'value', rewrite: back }, ...this.fixed];
  }
}

export class TypeRule implements Rule {
  constructor(readonly mode: Mode, private readonly from: number, private readonly to: number) {}

  apply(q: QueryState): ResponseRule[] | null {
    if (q.type !== this.from) return null;
    q.type = this.to;
    return [];
  }
}

export class ClassRule implements Rule {
  constructor(readonly mode: Mode, readonly from: number, private readonly to: number) {}

  apply(q: QueryState): ResponseRule[] | null {
    if (q.qclass !== this.from) return null;
    q.qclass = this.to;
    return [];
  }
}

/** ttl and rcode rules: they only match the name, and change the answer. */
export class AnswerRule implements Rule {
  constructor(readonly mode: Mode, private readonly test: NameTest, private readonly response: ResponseRule) {}

  apply(q: QueryState): ResponseRule[] | null {
    return this.test(q.name) ? [this.response] : null;
  }
}

/** `cname`: applies to every query (as in CoreDNS, so `stop` ends the rules here). */
export class CnameRule implements Rule {
  constructor(readonly mode: Mode, private readonly retarget: (target: string) => string | null) {}

  apply(q: QueryState): ResponseRule[] {
    return [{ kind: 'cname', retarget: this.retarget, qtype: q.type }];
  }
}

export type EdnsAction = 'set' | 'append' | 'replace' | 'unset';

/** What an EDNS0 rule puts in its option, worked out per query; null: nothing to put (the rule is skipped). */
export type OptionData = (q: QueryState) => Buffer | null;

export function fixedData(data: Buffer): OptionData {
  return () => data;
}

export function variableOption(v: Variable): OptionData {
  return (q) => variableData(v, { ...q.source, qname: q.qname(), qtype: q.type });
}

export function subnetOption(v4Bits: number, v6Bits: number): OptionData {
  return (q) => subnetData(q.source.remoteAddress, v4Bits, v6Bits);
}

export const emptyOption: OptionData = () => Buffer.alloc(0);

/**
 * `edns0 local|nsid|subnet`: `set` replaces the option or adds it,
 * `replace` only replaces, `append` only adds when there is none, `unset`
 * removes it. `revert` needs no work here: answers never carry the
 * query's options back (the server writes its own OPT record).
 */
export class EdnsRule implements Rule {
  constructor(
    readonly mode: Mode,
    private readonly action: EdnsAction,
    private readonly code: number,
    private readonly data: OptionData,
  ) {}

  apply(q: QueryState): ResponseRule[] | null {
    if (this.action === 'unset') {
      const o = q.editOpt();
      o.options = o.options.filter((x) => x.code !== this.code);
      return [];
    }
    const data = this.data(q);
    if (data === null) return null;
    const existing = q.currentOpt()?.options.find((x) => x.code === this.code);
    if (existing !== undefined) {
      if (this.action === 'append') return null;
      existing.data = data;
      q.editOpt();
      return [];
    }
    if (this.action === 'replace') return null;
    q.editOpt().options.push({ code: this.code, data });
    return [];
  }
}

export { EDNS0_NSID, EDNS0_SUBNET };
