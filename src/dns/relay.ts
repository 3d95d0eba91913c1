import dnsPacket from 'dns-packet';
import { FLAG, RCODE } from './constants.js';
import { encodeError, encodeReply, OPT_SIZE, writeOptAt, type EncodeLimits, type QueryEcho } from './encode.js';
import type { Reply, RR } from './reply.js';
import { walkMessage } from './wire.js';

/**
 * Sends an upstream's message on as it came (rcode, TTLs, flags, sections),
 * with the client's ID and question spelling, and our own OPT record when
 * the client sent one: `wire` never carries an OPT (forward takes the
 * upstream's out, OPT is hop-by-hop), except an `addressed` one, which is
 * already this query's whole answer. Only when the message is too big for
 * the client's buffer is it decoded and re-encoded, cut at a record boundary.
 */
export function relayWire(q: QueryEcho, r: Reply & { wire: Buffer }, limits: EncodeLimits): Buffer {
  const options = r.ednsOptions;
  const wire = r.addressed === true && options !== undefined && q.edns !== null ? withOptOptions(r.wire, options) : r.wire;
  if (r.addressed === true && wire !== null && wire.length <= limits.maxSize) return wire;
  if (wire === null) return encodeReply(q, { ...sectionsOf(r.wire), ednsOptions: options }, limits);
  // An extended rcode (RFC 6891 6.1.3) can't be said to a client without EDNS.
  if (r.rcode > 0xf && q.edns === null) return encodeError(q, RCODE.SERVFAIL, limits);
  const optLen = q.edns !== null && r.addressed !== true ? OPT_SIZE + (options?.length ?? 0) : 0;
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
    if (optLen > 0) {
      writeOptAt(out, len, limits.ednsSize, q.edns!, r.rcode, options);
      out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
    }
    return out;
  }
  const s = sectionsOf(wire);
  if (r.rcode > 0xf) s.rcode = r.rcode;
  s.ednsOptions = options;
  return encodeReply(q, s, limits);
}

/** A message's sections as a Reply (OPT left out: the encoder writes our own). */
export function sectionsOf(wire: Buffer): Reply {
  const p = dnsPacket.decode(wire);
  const flags = p.flags ?? 0;
  return {
    rcode: flags & 0xf,
    aa: (flags & FLAG.AA) !== 0,
    answer: (p.answers ?? []) as RR[],
    authority: (p.authorities ?? []) as RR[],
    additional: ((p.additionals ?? []) as RR[]).filter((rr) => rr.type !== 'OPT'),
  };
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
