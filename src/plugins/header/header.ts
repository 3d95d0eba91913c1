import { DerivedReplies, type ReplyChanges } from '../../dns/answer-edit.js';
import type { HeaderEdit, Reply } from '../../dns/reply.js';
import type { Handler, Plugin, Request } from '../../server/plugin.js';

/** `edit` applied after `first`: later rules win, as CoreDNS applies them in order. */
export function composeEdits(first: HeaderEdit | undefined, edit: HeaderEdit): HeaderEdit {
  if (first === undefined) return edit;
  return { set: (first.set & ~edit.clear) | edit.set, clear: (first.clear & ~edit.set) | edit.clear };
}

export function applyEdit(flags: number, edit: HeaderEdit): number {
  return (flags & ~edit.clear & 0xffff) | edit.set;
}

/**
 * The reply with the response rules: the server applies `header` to the
 * bytes it sends (after truncation, whatever the reply's shape); a relayed
 * message is patched too, so a cache above keeps the edited flags.
 */
export function headerReply(r: Reply, edit: HeaderEdit): ReplyChanges {
  const header = composeEdits(r.header, edit);
  if (r.kind !== 'relay' || r.wire.length < 4) return { header };
  const wire = Buffer.from(r.wire);
  wire.writeUInt16BE(applyEdit(wire.readUInt16BE(2), edit), 2);
  return { header, wire };
}

/** Sets and clears header flags of queries (for the rest of the chain) and of answers. */
export class HeaderPlugin implements Plugin {
  readonly name = 'header';
  private readonly derived = new DerivedReplies();

  constructor(private readonly query: HeaderEdit | null, private readonly response: HeaderEdit | null) {}

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    const r = next(this.query === null ? req : withQueryFlags(req, this.query));
    const edit = this.response;
    if (edit === null) return r;
    return r instanceof Promise ? r.then((x) => this.derived.derive(x, (y) => headerReply(y, edit))) : this.derived.derive(r, (y) => headerReply(y, edit));
  }
}

/** The request as the rest of the chain sees it: flags and the raw query (forward sends it on) edited. */
function withQueryFlags(req: Request, edit: HeaderEdit): Request {
  const flags = applyEdit(req.flags, edit);
  if (flags === req.flags) return req;
  let raw = req.raw;
  if (raw.length >= 4) {
    raw = Buffer.from(raw);
    raw.writeUInt16BE(flags, 2);
  }
  return { ...req, flags, raw };
}
