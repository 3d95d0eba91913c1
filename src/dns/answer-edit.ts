// Changes a plugin makes to an answer produced further down the chain
// (minimal, header, nsid), for both shapes of Reply: sections, and an
// upstream's relayed message in `wire`. Replies handed out by other plugins
// may be shared (memoized, reusable): they are never changed in place.

import { carriesMessage, type HeaderEdit, type RR, type Reply } from './reply.js';
import type { WireView } from './wire.js';

/** The answer bytes with the header edit applied: a copy, since `out` may be a kept encoding. */
export function withHeaderEdit(out: Buffer, edit: HeaderEdit): Buffer {
  if (out.length < 4) return out;
  const copy = Buffer.from(out);
  copy.writeUInt16BE((copy.readUInt16BE(2) & ~edit.clear & 0xffff) | edit.set, 2);
  return copy;
}

/**
 * What a plugin above may change in a reply from further down: decorations
 * the server applies when sending (header, EDNS options), the relayed bytes,
 * or the non-answer sections of a reply with sections.
 */
export interface ReplyChanges {
  header?: HeaderEdit;
  ednsOptions?: Buffer;
  /** Relayed replies only. */
  wire?: Buffer;
  /** Replies with sections only. */
  authority?: RR[];
  additional?: RR[];
}

/** `r` with `c`, of the same kind; `r` itself is never changed. */
function changed(r: Reply, c: ReplyChanges): Reply {
  if (!carriesMessage(r)) return r; // a drop sends nothing; a transfer is the transfer plugin's own
  const header = c.header ?? r.header;
  const ednsOptions = c.ednsOptions ?? r.ednsOptions;
  if (r.kind === 'relay') return { ...r, header, ednsOptions, wire: c.wire ?? r.wire };
  return { ...r, header, ednsOptions, authority: c.authority ?? r.authority, additional: c.additional ?? r.additional };
}

/**
 * Derived replies: `r` with `changes`. A reusable `r` (a memoized answer
 * the plugin below hands out again) gets one derived reply, kept beside it
 * and reusable in turn, so the server's kept encodings (keyed by the reply
 * object) still work; any other `r` gets a fresh one.
 */
export class DerivedReplies {
  private readonly memo = new WeakMap<Reply, Reply>();

  derive(r: Reply, make: (r: Reply) => ReplyChanges): Reply {
    if (r.kind !== 'records' || !r.reusable) return changed(r, make(r));
    let d = this.memo.get(r);
    if (d === undefined) {
      d = changed(r, make(r));
      this.memo.set(r, d);
    }
    return d;
  }
}

/** `wire` cut to its answer section, keeping an OPT record (an addressed answer's own) at the end. */
export function answerOnly(wire: Buffer, v: WireView): Buffer {
  let answerEnd = v.questionEnd;
  for (const rr of v.records) if (rr.section === 0) answerEnd = rr.end;
  const opt = v.records[v.opt];
  const optLen = opt === undefined ? 0 : opt.end - opt.nameAt;
  const out = Buffer.allocUnsafe(answerEnd + optLen);
  wire.copy(out, 0, 0, answerEnd);
  if (opt !== undefined) wire.copy(out, answerEnd, opt.nameAt, opt.end);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(opt === undefined ? 0 : 1, 10);
  return out;
}
