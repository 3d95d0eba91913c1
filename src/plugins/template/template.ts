import { QCLASS, QTYPE, RCODE } from '../../dns/constants.js';
import { fqdn, isSubdomain } from '../../dns/names.js';
import { sectionsOf } from '../../dns/relay.js';
import { failure as failedReply, NO_RECORDS, records, type Reply, type RR } from '../../dns/reply.js';
import type { PluginSample } from '../../metrics/plugins.js';
import { templateSamples } from './families.js';
import { log } from '../../log.js';
import type { Handler, Plugin, Request, SetupContext } from '../../server/plugin.js';
import type { Fallthrough } from '../../corefile/fallthrough.js';
import { TemplateExecError, type GoTemplate } from './gotemplate-exec.js';
import { TemplateData } from './data.js';
import type { MatchLabels, TemplateMetrics } from './metrics.js';
import { parseRR, RRSyntaxError } from './rr.js';

export type Section = 'answer' | 'additional' | 'authority';

export interface CompiledRegex {
  re: RegExp;
  /** The pattern as written (Go syntax): `.Regex`. */
  source: string;
}

/** One `template` directive, validated. */
export interface TemplateSpec {
  qclass: number;
  qtype: number;
  /** Lower-case, no trailing dot, the root as "". */
  zones: string[];
  /** Empty: match every name (CoreDNS's default `.*`). */
  regexes: CompiledRegex[];
  sections: Record<Section, GoTemplate[]>;
  rcode: number;
  fallthrough: Fallthrough;
}

/** CoreDNS bounds nothing here; we stop a CNAME target lookup that hangs, as kubernetes' chase does. */
const CHASE_TIMEOUT_MS = 2000;

const ORDER: readonly Section[] = ['answer', 'additional', 'authority'];

/**
 * Answers queries from templates, as CoreDNS's template plugin: a query in
 * the zones, of the class and type, whose name a `match` regex accepts,
 * gets the rendered records with AA set and the configured rcode. A name in
 * the zones that no regex accepts gets SERVFAIL, or goes to the next plugin
 * with `fallthrough`. Anything else goes to the next plugin untouched, and
 * costs a zone test and two comparisons.
 */
export class TemplatePlugin implements Plugin {
  readonly name = 'template';
  readonly classes: readonly number[];
  /** Replies are the same for every match (no field used): built once. */
  private readonly fixed: { reply: Reply; hasCname: boolean } | null;
  /** The zones as `.Zone` shows them ("example."), by index. */
  private readonly zoneTexts: readonly string[];

  constructor(
    readonly spec: TemplateSpec,
    readonly metrics: TemplateMetrics,
    private readonly resolve: SetupContext['resolve'],
  ) {
    this.classes = classesFor(spec.qclass);
    this.fixed = fixedReply(spec);
    this.zoneTexts = spec.zones.map(fqdn);
  }

  collectMetrics(): PluginSample[] {
    return templateSamples(this.metrics);
  }

  /** The gate every query passes: kept small so it stays cheap for names no template takes. */
  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    const s = this.spec;
    const zone = longestZone(req.lname, s.zones);
    if (zone < 0) return next(req);
    if (s.qclass !== QCLASS.ANY && req.qclass !== QCLASS.ANY && req.qclass !== s.qclass) return next(req);
    if (s.qtype !== QTYPE.ANY && req.type !== QTYPE.ANY && req.type !== s.qtype) return next(req);
    return this.inZone(req, next, zone);
  }

  private inZone(req: Request, next: Handler, zone: number): Reply | Promise<Reply> {
    const s = this.spec;
    const qname = fqdn(req.lname);
    let match: RegExpExecArray | null = null;
    let regex: CompiledRegex | null = null;
    for (const r of s.regexes) {
      match = r.re.exec(qname);
      if (match !== null) { regex = r; break; }
    }
    if (s.regexes.length > 0 && match === null) {
      return s.fallthrough.matches(req.lname) ? next(req) : failure();
    }
    const labels = this.metrics.match(req.server, zone, this.zoneTexts[zone] ?? '', req.qclass, req.type, s.qclass, s.qtype);
    if (s.rcode === RCODE.SERVFAIL) return failure();
    const chase = (req.type === QTYPE.A || req.type === QTYPE.AAAA) && !req.internal;
    if (this.fixed !== null && !(chase && this.fixed.hasCname)) return this.fixed.reply;
    return this.render(req, new TemplateData(req, labels.zone, qname, regex, match, s.qclass, s.qtype), labels, chase);
  }

  private render(req: Request, data: TemplateData, labels: MatchLabels, chase: boolean): Reply | Promise<Reply> {
    const s = this.spec;
    const out: Record<Section, RR[]> = { answer: [], additional: [], authority: [] };
    for (const section of ORDER) {
      for (const t of s.sections[section]) {
        let text: string;
        try {
          text = t.render(data);
        } catch (err) {
          if (!(err instanceof TemplateExecError)) throw err;
          this.metrics.templateFailure({ ...labels, section, template: t.text });
          return failure(new Error(`${section}: ${err.message}`));
        }
        try {
          out[section].push(parseRR(text));
        } catch (err) {
          if (!(err instanceof RRSyntaxError)) throw err;
          this.metrics.rrFailure({ ...labels, section, template: t.text });
          return failure(new Error(`${section}: ${err.message} in ${JSON.stringify(text)}`));
        }
      }
    }
    if (chase && out.answer.some((rr) => rr.type === 'CNAME')) return this.chase(out, req.type);
    return templateReply(s.rcode, out.answer, out.authority, out.additional);
  }

  /**
   * CoreDNS looks up each CNAME target of the answer through the server
   * (for A/AAAA questions) and appends what comes back. Queries the server
   * sends itself are not chased again, so templates pointing at each other
   * cannot loop.
   */
  private async chase(out: Record<Section, RR[]>, qtype: number): Promise<Reply> {
    const answer: RR[] = [];
    for (const rr of out.answer) {
      answer.push(rr);
      if (rr.type !== 'CNAME') continue;
      const target = (rr as { data: string }).data;
      const got = await this.lookup(target, qtype);
      if (got !== null) answer.push(...got);
    }
    return templateReply(this.spec.rcode, answer, out.authority, out.additional);
  }

  private async lookup(target: string, qtype: number): Promise<RR[] | null> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const r = await Promise.race([
        Promise.resolve().then(() => this.resolve(target, qtype)),
        new Promise<null>((done) => { timer = setTimeout(() => done(null), CHASE_TIMEOUT_MS); }),
      ]);
      if (r === null) return null;
      return (r.kind === 'relay' ? sectionsOf(r.wire, r.by, r.rcode) : r).answer;
    } catch (err) {
      log('debug', 'template', 'CNAME target did not resolve', { target, err });
      return null;
    } finally {
      clearTimeout(timer);
    }
  }
}

// ---- replies: every reply of this plugin is made here ---------------------

/** A rendered answer: AA set, as CoreDNS's template plugin sets it. */
export function templateReply(rcode: number, answer: RR[], authority: RR[], additional: RR[]): Reply {
  return records(rcode, 'template', true, answer, authority, additional);
}

/** SERVFAIL written by the server (no AA); `error` is what the errors plugin logs. */
function failure(error?: Error): Reply {
  return failedReply(RCODE.SERVFAIL, 'template', error);
}

// ---- helpers ----------------------------------------------------------------

/** Index of the longest of `zones` holding lname (CoreDNS's Zones.Matches), or -1; allocates nothing. */
function longestZone(lname: string, zones: readonly string[]): number {
  let best = -1;
  let bestLength = -1;
  for (const [i, z] of zones.entries()) {
    if (z.length > bestLength && isSubdomain(lname, z)) { best = i; bestLength = z.length; }
  }
  return best;
}

/**
 * Classes besides IN whose questions reach this plugin (the server refuses
 * a class no plugin declares). A query of class ANY matches every template.
 */
function classesFor(qclass: number): number[] {
  if (qclass === QCLASS.ANY) return [2, QCLASS.CH, 4, QCLASS.ANY];
  if (qclass === QCLASS.IN) return [QCLASS.ANY];
  return [qclass, QCLASS.ANY];
}

/** A template whose records use no field renders the same every time: parse it once. */
function fixedReply(spec: TemplateSpec): { reply: Reply; hasCname: boolean } | null {
  const out: Record<Section, RR[]> = { answer: [], additional: [], authority: [] };
  for (const section of ORDER) {
    for (const t of spec.sections[section]) {
      if (!t.isConstant()) return null;
      out[section].push(parseRR(t.render('')));
    }
  }
  const none = (l: RR[]): RR[] => (l.length === 0 ? NO_RECORDS : l);
  return {
    reply: templateReply(spec.rcode, none(out.answer), none(out.authority), none(out.additional)),
    hasCname: out.answer.some((rr) => rr.type === 'CNAME'),
  };
}
