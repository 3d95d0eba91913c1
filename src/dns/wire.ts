// A read-only walk over a DNS message: where each record's TTL and RDATA sit,
// without decoding into objects. The cache patches TTLs in place from these
// offsets; loadbalance permutes A/AAAA RDATA. Input is hostile (an
// upstream's bytes): every offset is checked and null means "don't touch".

import { QTYPE } from './constants.js';

export interface RecordRef {
  /** 0 answer, 1 authority, 2 additional. */
  section: 0 | 1 | 2;
  /** Offset of the owner name. */
  nameAt: number;
  type: number;
  rclass: number;
  /** Offset of the 32-bit TTL field. */
  ttlAt: number;
  ttl: number;
  /** Offset and length of the RDATA. */
  rdAt: number;
  rdLen: number;
  /** Offset just past the record. */
  end: number;
}

export interface WireView {
  flags: number;
  rcode: number;
  qdcount: number;
  /** Offset just past the question section. */
  questionEnd: number;
  /** Question type/class (0 when there is no question). */
  qtype: number;
  qclass: number;
  records: RecordRef[];
  /** Index in `records` of the OPT record, -1 if none. */
  opt: number;
}

const MIN_RR = 11;

/** Offset just past a (possibly compressed) name at `off`, or -1. */
export function skipName(buf: Buffer, off: number): number {
  const len = buf.length;
  for (let n = 0; n < 128; n++) {
    const l = buf[off];
    if (l === undefined) return -1; // ran off the end
    if (l === 0) return off + 1;
    if ((l & 0xc0) === 0xc0) return off + 2 <= len ? off + 2 : -1;
    if (l > 63) return -1;
    off += 1 + l;
  }
  return -1;
}

/**
 * The name at `off`, decompressed, lower-case, no trailing dot ("" for the
 * root), with the escapes parseQuery uses (\. \\ \DDD), so it compares
 * equal to a Request's `lname`. Null on a malformed name or pointer loop.
 */
export function readNameKey(buf: Buffer, off: number): string | null {
  const len = buf.length;
  let out = '';
  let total = 0;
  for (let hops = 0; hops < 128; hops++) {
    const l = buf[off];
    if (l === undefined) return null; // ran off the end
    if (l === 0) return out;
    if ((l & 0xc0) === 0xc0) {
      const lo = buf[off + 1];
      if (lo === undefined) return null;
      off = ((l & 0x3f) << 8) | lo;
      continue;
    }
    if (l > 63 || off + 1 + l > len) return null;
    total += l + 1;
    if (total > 255) return null;
    let label = '';
    for (let i = off + 1; i <= off + l; i++) {
      let c = buf[i];
      if (c === undefined) return null; // bounds checked above: cannot happen
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c === 0x2e || c === 0x5c) label += `\\${String.fromCharCode(c)}`;
      else if (c <= 0x20 || c >= 0x7f) label += `\\${c.toString().padStart(3, '0')}`;
      else label += String.fromCharCode(c);
    }
    out = out === '' ? label : `${out}.${label}`;
    off += 1 + l;
  }
  return null;
}

/** Walks a message's header, question and records. Null if anything is out of bounds. */
export function walkMessage(buf: Buffer): WireView | null {
  const len = buf.length;
  if (len < 12) return null;
  const flags = buf.readUInt16BE(2);
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  // Counts first: a header claiming 65535 records costs nothing to refuse.
  if (qd > 1 || 12 + qd * 5 + (an + ns + ar) * MIN_RR > len) return null;
  let off = 12;
  let qtype = 0;
  let qclass = 0;
  if (qd === 1) {
    off = skipName(buf, off);
    if (off < 0 || off + 4 > len) return null;
    qtype = buf.readUInt16BE(off);
    qclass = buf.readUInt16BE(off + 2);
    off += 4;
  }
  const questionEnd = off;
  const records: RecordRef[] = [];
  let opt = -1;
  const total = an + ns + ar;
  for (let i = 0; i < total; i++) {
    const nameAt = off;
    off = skipName(buf, off);
    if (off < 0 || off + 10 > len) return null;
    const type = buf.readUInt16BE(off);
    const rclass = buf.readUInt16BE(off + 2);
    const ttl = buf.readUInt32BE(off + 4);
    const rdLen = buf.readUInt16BE(off + 8);
    const rdAt = off + 10;
    const end = rdAt + rdLen;
    if (end > len) return null;
    const section = i < an ? 0 : i < an + ns ? 1 : 2;
    if (type === QTYPE.OPT) {
      if (opt >= 0 || section !== 2) return null;
      opt = records.length;
    }
    records.push({ section, nameAt, type, rclass, ttlAt: off + 4, ttl, rdAt, rdLen, end });
    off = end;
  }
  return { flags, rcode: flags & 0xf, qdcount: qd, questionEnd, qtype, qclass, records, opt };
}

/**
 * Offset just past a name at `off` as it sits in the message (a pointer
 * ends it), or -1 unless the whole name decodes: labels within the buffer,
 * at most 255 bytes, no extended label types, and every compression pointer
 * aiming strictly before itself, which rules out loops.
 */
export function strictNameEnd(buf: Buffer, off: number): number {
  const len = buf.length;
  let end = -1;
  let total = 1;
  for (;;) {
    const l = buf[off];
    if (l === undefined) return -1; // ran off the end
    if (l === 0) return end >= 0 ? end : off + 1;
    if ((l & 0xc0) === 0xc0) {
      const lo = buf[off + 1];
      if (lo === undefined) return -1;
      const target = ((l & 0x3f) << 8) | lo;
      if (target >= off) return -1;
      if (end < 0) end = off + 2;
      off = target;
      continue;
    }
    if (l > 63) return -1;
    total += l + 1;
    if (total > 255 || off + 1 + l > len) return -1;
    off += 1 + l;
  }
}

/** An upstream reply that decoded completely, with its OPT record taken out. */
export interface CheckedReply {
  /**
   * Header, question and records up to (not including) the OPT record, with
   * ARCOUNT adjusted; the input itself when there was nothing to take out.
   * OPT is hop-by-hop (RFC 6891 6.1.1): whoever sends this on adds its own.
   */
  wire: Buffer;
  /** The full rcode: header bits plus the OPT's extended bits. */
  rcode: number;
}

// RDATA that is exactly one domain name: NS, MD, MF, CNAME, MB, MG, MR, PTR, DNAME.
const ONE_NAME = new Set([2, 3, 4, 5, 7, 8, 9, 12, 39]);

/** Does the RDATA of a type we know the layout of decode and fill exactly rdLen? */
function rdataOk(buf: Buffer, type: number, at: number, end: number): boolean {
  const n = end - at;
  if (ONE_NAME.has(type)) return strictNameEnd(buf, at) === end;
  switch (type) {
    case QTYPE.A: return n === 4;
    case QTYPE.AAAA: return n === 16;
    case QTYPE.MX: case 18 /* AFSDB */: case 21 /* RT */:
      return n > 2 && strictNameEnd(buf, at + 2) === end;
    case QTYPE.SRV: return n > 6 && strictNameEnd(buf, at + 6) === end;
    case QTYPE.SOA: {
      let off = strictNameEnd(buf, at);
      if (off < 0 || off > end) return false;
      off = strictNameEnd(buf, off);
      return off >= 0 && off + 20 === end;
    }
    case QTYPE.TXT: {
      if (n === 0) return false;
      let off = at;
      while (off < end) {
        const l = buf[off];
        if (l === undefined) return false; // end <= buf.length: cannot happen
        off += 1 + l;
      }
      return off === end;
    }
    case QTYPE.OPT: {
      let off = at;
      while (off + 4 <= end) off += 4 + buf.readUInt16BE(off + 2);
      return off === end;
    }
    default: return true;
  }
}

/**
 * Checks an upstream's reply end to end before anything is cached or
 * relayed: one question, every record present as the header counts claim,
 * every name (owners, and names inside RDATA of the types that carry them)
 * decodable, fixed-size RDATA of the right size, at most one OPT and only
 * in the additional section. Returns why not as a string.
 */
export function checkUpstreamReply(buf: Buffer): CheckedReply | string {
  const len = buf.length;
  if (len < 12) return 'shorter than a header';
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  if (buf.readUInt16BE(4) !== 1) return 'not exactly one question';
  const total = an + ns + ar;
  if (12 + 5 + total * MIN_RR > len) return `header claims ${total} records, the message cannot hold them`;
  let off = strictNameEnd(buf, 12);
  if (off < 0 || off + 4 > len) return 'bad question';
  off += 4;
  let rcode = buf.readUInt8(3) & 0xf;
  let optAt = -1;
  let beforeOpt = 0;
  for (let i = 0; i < total; i++) {
    const nameAt = off;
    off = strictNameEnd(buf, off);
    if (off < 0) return `record ${i + 1}: bad owner name`;
    if (off + 10 > len) return `record ${i + 1} of ${total} is missing`;
    const type = buf.readUInt16BE(off);
    const rdLen = buf.readUInt16BE(off + 8);
    const rdAt = off + 10;
    const end = rdAt + rdLen;
    if (end > len) return `record ${i + 1}: RDATA runs past the message`;
    if (type === QTYPE.OPT) {
      if (optAt >= 0) return 'two OPT records';
      if (i < an + ns || buf[nameAt] !== 0) return 'OPT record out of place';
      optAt = nameAt;
      beforeOpt = i - an - ns;
      rcode |= buf.readUInt8(off + 4) << 4;
    }
    if (!rdataOk(buf, type, rdAt, end)) return `record ${i + 1}: bad ${type} RDATA`;
    off = end;
  }
  if (optAt < 0) return { wire: off === len ? buf : buf.subarray(0, off), rcode };
  // Records after OPT (TSIG, SIG(0)) are hop-by-hop as well; pointers only aim backwards, so the cut is safe.
  const out = Buffer.from(buf.subarray(0, optAt));
  out.writeUInt16BE(beforeOpt, 10);
  return { wire: out, rcode };
}
