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
    if (off >= len) return -1;
    const l = buf[off]!;
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
    if (off >= len) return null;
    const l = buf[off]!;
    if (l === 0) return out;
    if ((l & 0xc0) === 0xc0) {
      if (off + 1 >= len) return null;
      off = ((l & 0x3f) << 8) | buf[off + 1]!;
      continue;
    }
    if (l > 63 || off + 1 + l > len) return null;
    total += l + 1;
    if (total > 255) return null;
    let label = '';
    for (let i = off + 1; i <= off + l; i++) {
      let c = buf[i]!;
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
