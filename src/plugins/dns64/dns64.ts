import { QCLASS, QTYPE, RCODE } from '../../dns/constants.js';
import { sectionsOf } from '../../dns/relay.js';
import { carriesMessage, failure, records, type AnswerReply, type RecordsReply, type Reply } from '../../dns/reply.js';
import type { PluginSample } from '../../metrics/plugins.js';
import type { Handler, Plugin, Request, SetupContext } from '../../server/plugin.js';
import { dns64Samples } from './families.js';
import { synthesize, type Prefix } from './synthesize.js';

export interface Dns64Options {
  prefix: Prefix;
  translateAll: boolean;
  allowIpv4: boolean;
}

/** An IPv4 client, also when a dual-stack socket reports it as ::ffff:a.b.c.d (CoreDNS: family 1). */
function ipv4Client(addr: string): boolean {
  return !addr.includes(':') || (addr.startsWith('::ffff:') && addr.includes('.'));
}

function sections(r: AnswerReply): RecordsReply {
  return r.kind === 'relay' ? sectionsOf(r.wire, r.by, r.rcode > 0xf ? r.rcode : undefined) : r;
}

/**
 * RFC 6147 DNS64 as CoreDNS does it: an AAAA question (class IN, from an
 * IPv6 client unless allow_ipv4) whose answer is not NXDOMAIN and holds
 * no AAAA (or any answer, with translate_all) is answered from the name's
 * A records, asked through the whole server for the same client.
 */
export class Dns64Plugin implements Plugin {
  readonly name = 'dns64';
  /** coredns_dns64_requests_translated_total, by server (listener). */
  readonly translated = new Map<string, number>();

  collectMetrics(): PluginSample[] {
    return dns64Samples(this.translated);
  }

  constructor(private readonly opts: Dns64Options, private readonly ctx: Pick<SetupContext, 'resolve'>) {}

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    if (req.type !== QTYPE.AAAA || req.qclass !== QCLASS.IN) return next(req);
    if (!this.opts.allowIpv4 && ipv4Client(req.remoteAddress)) return next(req);
    const r = next(req);
    return r instanceof Promise ? r.then((x) => this.after(req, x)) : this.after(req, r);
  }

  private after(req: Request, r: Reply): Reply | Promise<Reply> {
    // A dropped query stays dropped; acl's answers are policy, not a lack of AAAA records.
    if (!carriesMessage(r) || r.by === 'acl') return r;
    // 5.1.2: NXDOMAIN stands; every other rcode counts as an empty answer.
    if (r.rcode === RCODE.NXDOMAIN) return r;
    const aaaa = sections(r);
    if (!this.opts.translateAll && aaaa.answer.some((rr) => rr.type === 'AAAA')) return r;
    return this.translate(req, aaaa);
  }

  private async translate(req: Request, aaaa: RecordsReply): Promise<Reply> {
    let a: RecordsReply;
    try {
      a = sections(await this.ctx.resolve(req.name, QTYPE.A, req));
    } catch (err) {
      return failure(RCODE.SERVFAIL, 'dns64', err instanceof Error ? err : new Error(String(err)));
    }
    this.translated.set(req.server, (this.translated.get(req.server) ?? 0) + 1);
    // As CoreDNS's Synthesize: NOERROR whatever the A answer's rcode, its authority and additional passed on (5.3.2).
    return records(RCODE.NOERROR, 'dns64', false, synthesize(this.opts.prefix, a.answer, aaaa.authority), a.authority, a.additional);
  }
}
