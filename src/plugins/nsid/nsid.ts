import { DerivedReplies, type ReplyChanges } from '../../dns/answer-edit.js';
import { EDNS_OPTION, ednsOption, hasEdnsOption } from '../../dns/edns-options.js';
import type { Reply } from '../../dns/reply.js';
import type { Handler, Plugin, Request } from '../../server/plugin.js';

/** The reply with our NSID option added to the options our OPT record carries. */
export function nsidReply(r: Reply, option: Buffer): ReplyChanges {
  return { ednsOptions: r.ednsOptions === undefined ? option : Buffer.concat([r.ednsOptions, option]) };
}

/** RFC 5001: answers to queries that ask for the NSID carry this server's identifier in our OPT record. */
export class NsidPlugin implements Plugin {
  readonly name = 'nsid';
  private readonly option: Buffer;
  private readonly derived = new DerivedReplies();

  constructor(data: string) {
    // CoreDNS hex-encodes DATA into miekg/dns's NSID field, which packs it back to these bytes.
    this.option = ednsOption(EDNS_OPTION.NSID, Buffer.from(data));
  }

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    if (req.edns === null || !hasEdnsOption(req.raw, EDNS_OPTION.NSID)) return next(req);
    const r = next(req);
    const add = (x: Reply): Reply => this.derived.derive(x, (y) => nsidReply(y, this.option));
    return r instanceof Promise ? r.then(add) : add(r);
  }
}
