import { encodeName } from '../../dns/build-query.js';
import { RCODE } from '../../dns/constants.js';
import { isSubdomain } from '../../dns/names.js';
import { sectionsOf } from '../../dns/relay.js';
import { carriesMessage, failure, records, type Reply, type RR } from '../../dns/reply.js';
import type { Placement, PluginSample } from '../../metrics/plugins.js';
import type { Handler, Plugin, Request } from '../../server/plugin.js';
import { autopathSamples } from './families.js';
import type { SearchPathFor } from './search.js';

/** Rcodes after which the next search element is tried, as CoreDNS's plugin.ClientWrite says "not written". */
const NOT_WRITTEN = new Set<number>([RCODE.SERVFAIL, RCODE.REFUSED, RCODE.FORMERR, RCODE.NOTIMP]);

/**
 * Server-side search path completion (CoreDNS plugin/autopath). A query
 * whose name ends in the first element of the client's search path is the
 * first try of a search walk: the server walks the rest itself and answers
 * the first reply that is not NXDOMAIN (a NODATA counts, as in CoreDNS),
 * with a CNAME from the asked name to the found one, so the client stops
 * after one query. When every try is NXDOMAIN the first reply goes back
 * as is and the client walks on.
 */
export class AutopathPlugin implements Plugin {
  readonly name = 'autopath';
  private successes = 0;
  private searchFor: SearchPathFor | null = null;

  /** `bind` finds the search path source; it may need the block's other plugins, so it runs at start. */
  constructor(private readonly zones: readonly string[], private readonly bind: () => SearchPathFor) {}

  start(): void {
    this.searchFor = this.bind();
  }

  collectMetrics(at: Placement): PluginSample[] {
    return autopathSamples(this.successes, at);
  }

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    const lname = req.lname;
    if (!this.zones.some((z) => isSubdomain(lname, z))) return next(req);
    this.searchFor ??= this.bind();
    const search = this.searchFor(req.remoteAddress, lname);
    const first = search?.[0];
    // The first element itself (no base name left) is an ordinary query.
    if (search === null || search === undefined || first === undefined || lname === first || !isSubdomain(lname, first)) return next(req);
    const base = req.name.slice(0, req.name.length - first.length - 1);
    return this.walk(req, next, base, search);
  }

  private async walk(req: Request, next: Handler, base: string, search: readonly string[]): Promise<Reply> {
    let firstReply: Reply | null = null;
    for (const s of search) {
      const asked = withName(req, s === '' ? base : `${base}.${s}`);
      if (asked === null) continue;
      let r: Reply;
      try {
        r = await next(asked);
      } catch (err) {
        return failure(RCODE.SERVFAIL, this.name, err instanceof Error ? err : new Error(String(err)));
      }
      firstReply ??= r;
      if (NOT_WRITTEN.has(r.rcode) || r.rcode === RCODE.NXDOMAIN) continue;
      this.successes++;
      return withCname(r, req.name, asked.name);
    }
    return firstReply ?? next(req);
  }
}

/**
 * The reply for `found` as the answer to `asked`: a CNAME from the asked
 * name to the owner of the first answer record that is not the asked name
 * (CoreDNS's cnamer), then the records. The server writes the client's
 * own question.
 */
function withCname(r: Reply, asked: string, found: string): Reply {
  if (asked.toLowerCase() === found.toLowerCase() || !carriesMessage(r)) return r;
  const s = r.kind === 'relay' ? sectionsOf(r.wire, r.by, r.rcode > 0xf ? r.rcode : undefined) : r;
  const answer: RR[] = [...s.answer];
  const target = answer.find((rr) => rr.name.toLowerCase() !== asked.toLowerCase());
  if (target !== undefined) {
    answer.unshift({ name: asked, type: 'CNAME', class: 'IN', ttl: 'ttl' in target ? target.ttl ?? 0 : 0, data: target.name } as RR);
  }
  return records(s.rcode, s.by, s.aa, answer, s.authority, s.additional, s.error);
}

/** The request asking `name` instead: new question bytes, header and OPT kept. Null when the name can't be encoded (too long). */
export function withName(req: Request, name: string): Request | null {
  let qname: Buffer;
  try {
    qname = encodeName(name);
  } catch {
    return null;
  }
  const nameEnd = req.questionEnd - 4;
  const raw = Buffer.concat([req.raw.subarray(0, 12), qname, req.raw.subarray(nameEnd)]);
  return { ...req, raw, name, lname: name.toLowerCase(), questionEnd: 12 + qname.length + 4 };
}
