import { QTYPE, RCODE } from '../../dns/constants.js';
import { records, type Reply } from '../../dns/reply.js';
import type { Handler, Plugin, Request } from '../../server/plugin.js';

/** RFC 8482 4.2: one synthesized HINFO instead of everything we have (TTL 8482, as CoreDNS). */
export function anyReply(req: Request): Reply {
  return records(RCODE.NOERROR, 'any', false, [
    { name: req.name, type: 'HINFO', ttl: 8482, data: { cpu: 'ANY obsoleted', os: 'See RFC 8482' } },
  ]);
}

/** Answers qtype ANY itself; every other question goes down the chain untouched. */
export class AnyPlugin implements Plugin {
  readonly name = 'any';

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    return req.type === QTYPE.ANY ? anyReply(req) : next(req);
  }
}
