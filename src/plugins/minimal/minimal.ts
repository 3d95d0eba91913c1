import { answerOnly, DerivedReplies, type ReplyChanges } from '../../dns/answer-edit.js';
import type { Reply } from '../../dns/reply.js';
import { NO_RECORDS } from '../../dns/reply.js';
import { typify } from '../../dns/typify.js';
import { walkMessage } from '../../dns/wire.js';
import type { Handler, Plugin, Request } from '../../server/plugin.js';

/**
 * The answer section only, for a reply CoreDNS types NoError (records, or
 * NOERROR with neither SOA nor NS in authority); null when there is
 * nothing to take away. Works on sections and on a relayed message.
 */
function minimalChanges(r: Reply): ReplyChanges | null {
  if (r.kind === 'drop' || r.kind === 'transfer') return null;
  if (r.kind === 'records') {
    return r.authority.length === 0 && r.additional.length === 0 ? null : { authority: NO_RECORDS, additional: NO_RECORDS };
  }
  const v = walkMessage(r.wire);
  if (v === null || !v.records.some((rr) => rr.section !== 0 && rr.type !== 41)) return null;
  return { wire: answerOnly(r.wire, v) };
}

/** Strips authority and additional from positive answers (not from denials, errors or referrals). */
export class MinimalPlugin implements Plugin {
  readonly name = 'minimal';
  private readonly derived = new DerivedReplies();

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    const r = next(req);
    return r instanceof Promise ? r.then((x) => this.minimize(req, x)) : this.minimize(req, r);
  }

  private minimize(req: Request, r: Reply): Reply {
    if (typify(r, req.type, req.edns?.do === true) !== 'NoError') return r;
    const changes = minimalChanges(r);
    return changes === null ? r : this.derived.derive(r, () => changes);
  }
}
