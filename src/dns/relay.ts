import dnsPacket from 'dns-packet';
import { FLAG } from './constants.js';
import { encodeReply, type EncodeLimits, type QueryEcho } from './encode.js';
import type { Reply, RR } from './reply.js';

/**
 * Sends an upstream's message on as it came (rcode, TTLs, flags), with the
 * client's ID and question spelling. Only when it is too big for the
 * client's buffer is it decoded and re-encoded, cut at a record boundary.
 */
export function relayWire(q: QueryEcho, wire: Buffer, limits: EncodeLimits, addressed = false): Buffer {
  if (addressed && wire.length <= limits.maxSize) return wire;
  const sameQuestion = wire.length >= q.questionEnd && wire.readUInt16BE(4) === 1 &&
    wire.subarray(12, q.questionEnd).equals(q.raw.subarray(12, q.questionEnd));
  const questionMatchesIgnoringCase = sameQuestion ||
    (wire.length >= q.questionEnd && wire.toString('latin1', 12, q.questionEnd).toLowerCase() ===
      q.raw.toString('latin1', 12, q.questionEnd).toLowerCase());
  if (wire.length <= limits.maxSize && questionMatchesIgnoringCase) {
    const out = Buffer.from(wire);
    out.writeUInt16BE(q.id, 0);
    if (!sameQuestion) q.raw.copy(out, 12, 12, q.questionEnd);
    return out;
  }
  return encodeReply(q, sectionsOf(wire), limits);
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
