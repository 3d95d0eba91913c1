import dnsPacket from 'dns-packet';
import { FLAG, RCODE } from './constants.js';
import { encodeError, encodeReply, OPT_SIZE, writeOptAt, type EncodeLimits, type QueryEcho } from './encode.js';
import { records, type RecordsReply, type RelayReply, type RR } from './reply.js';
import { walkMessage } from './wire.js';

/**
 * Sends an upstream's message on as it came (rcode, TTLs, flags, sections),
 * with the client's ID and question spelling, and our own OPT record when
 * the client sent one: `wire` never carries an OPT (forward takes the
 * upstream's out, OPT is hop-by-hop), except an `addressed` one, which is
 * already this query's whole answer. Only when the message is too big for
 * the client's buffer is it decoded and re-encoded, cut at a record boundary.
 */
export function relayWire(q: QueryEcho, r: RelayReply, limits: EncodeLimits): Buffer {
  const options = r.ednsOptions;
  const extended = r.rcode > 0xf ? r.rcode : undefined;
  const wire = r.addressed && options !== undefined && q.edns !== null ? withOptOptions(r.wire, options) : r.wire;
  if (wire === null) return encodeReply(q, withOptions(sectionsOf(r.wire, r.by, extended), options), limits);
  if (r.addressed && wire.length <= limits.maxSize) return wire;
  // An extended rcode (RFC 6891 6.1.3) can't be said to a client without EDNS.
  if (r.rcode > 0xf && q.edns === null) return encodeError(q, RCODE.SERVFAIL, limits);
  const edns = r.addressed ? null : q.edns;
  const optLen = edns !== null ? OPT_SIZE + (options?.length ?? 0) : 0;
  const sameQuestion = wire.length >= q.questionEnd && wire.readUInt16BE(4) === 1 &&
    wire.subarray(12, q.questionEnd).equals(q.raw.subarray(12, q.questionEnd));
  const questionMatchesIgnoringCase = sameQuestion ||
    (wire.length >= q.questionEnd && wire.toString('latin1', 12, q.questionEnd).toLowerCase() ===
      q.raw.toString('latin1', 12, q.questionEnd).toLowerCase());
  if (wire.length + optLen <= limits.maxSize && questionMatchesIgnoringCase) {
    const len = wire.length;
    const out = Buffer.allocUnsafe(len + optLen);
    wire.copy(out);
    out.writeUInt16BE(q.id, 0);
    if (!sameQuestion) q.raw.copy(out, 12, 12, q.questionEnd);
    if (edns !== null) {
      writeOptAt(out, len, limits.ednsSize, edns, r.rcode, options);
      out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
    }
    return out;
  }
  return encodeReply(q, withOptions(sectionsOf(wire, r.by, extended), options), limits);
}

/**
 * A message's sections as a reply by `by` (OPT left out: the encoder writes
 * our own), with `rcode` when given (an extended rcode the header can't hold).
 */
export function sectionsOf(wire: Buffer, by: string, rcode?: number): RecordsReply {
  const p = dnsPacket.decode(wire);
  const flags = p.flags ?? 0;
  return records(
    rcode ?? flags & 0xf, by, (flags & FLAG.AA) !== 0,
    (p.answers ?? []) as RR[], (p.authorities ?? []) as RR[], ((p.additionals ?? []) as RR[]).filter((rr) => rr.type !== 'OPT'),
  );
}

/** The sections with the EDNS options a plugin asked for (nsid) carried over. */
function withOptions(s: RecordsReply, options: Buffer | undefined): RecordsReply {
  return options === undefined ? s : { ...s, ednsOptions: options };
}

/**
 * An addressed message with `options` appended to its OPT record, which
 * must be its last record (as the cache writes it); null when it is not.
 */
function withOptOptions(wire: Buffer, options: Buffer): Buffer | null {
  const v = walkMessage(wire);
  const opt = v === null ? undefined : v.records[v.opt];
  if (opt === undefined || opt.end !== wire.length) return null;
  const out = Buffer.allocUnsafe(wire.length + options.length);
  wire.copy(out);
  options.copy(out, wire.length);
  out.writeUInt16BE(opt.rdLen + options.length, opt.rdAt - 2);
  return out;
}
