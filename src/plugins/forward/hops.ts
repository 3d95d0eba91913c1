// The loop marker forward carries on every query it sends upstream: an
// EDNS option (a code from RFC 6891 9's local/experimental range) holding
// one 8-byte tag per forwarding hop. Each upstream of each forward plugin
// instance has its own random tag; a server that forwards a marked query
// keeps the tags it got and adds its own, so a query that comes back to a
// forward that already sent it carries that forward's tag: a loop, caught
// on its second pass instead of circling until the budget runs out.

import { randomBytes } from 'node:crypto';
import { QTYPE } from '../../dns/constants.js';
import { skipName } from '../../dns/wire.js';

/** Option code of the marker (65001–65534: local/experimental use, RFC 6891 9). */
export const LOOP_OPTION = 65301;
/** Bytes per hop in the marker. */
export const TAG_SIZE = 8;
/**
 * A query that already passed this many forwards is answered SERVFAIL
 * rather than sent on: a chain that long is a loop whose tags we cannot
 * recognise (ours changed with a reload), never a real setup.
 */
export const MAX_HOPS = 8;

const TSIG = 250;

/** A fresh random tag for one upstream of one forward instance. */
export function newTag(): Buffer {
  return randomBytes(TAG_SIZE);
}

/** One additional record of a query: where it is, and its type. */
interface Rec { start: number; end: number; type: number; rdAt: number }

/** The additional records after the question, or null when they do not decode. */
function records(q: Buffer, qend: number): Rec[] | null {
  const ar = q.readUInt16BE(10);
  const out: Rec[] = [];
  let off = qend;
  for (let i = 0; i < ar; i++) {
    const start = off;
    off = skipName(q, off);
    if (off < 0 || off + 10 > q.length) return null;
    const type = q.readUInt16BE(off);
    const rdAt = off + 10;
    const end = rdAt + q.readUInt16BE(off + 8);
    if (end > q.length) return null;
    out.push({ start, end, type, rdAt });
    off = end;
  }
  return out;
}

/** Each option of an OPT record's RDATA: code and data. */
function* options(q: Buffer, rdAt: number, end: number): Generator<{ code: number; start: number; data: Buffer }> {
  let off = rdAt;
  while (off + 4 <= end) {
    const code = q.readUInt16BE(off);
    const dataEnd = Math.min(off + 4 + q.readUInt16BE(off + 2), end);
    yield { code, start: off, data: q.subarray(off + 4, dataEnd) };
    off = dataEnd;
  }
}

/**
 * The tags of the marker a query carries (every marker option of its OPT
 * record, joined, cut to whole tags); an empty buffer when unmarked.
 */
export function readMarker(q: Buffer, qend: number): Buffer {
  const recs = records(q, qend);
  const opt = recs?.find((r) => r.type === QTYPE.OPT);
  if (!opt) return EMPTY;
  const found: Buffer[] = [];
  for (const o of options(q, opt.rdAt, opt.end)) if (o.code === LOOP_OPTION) found.push(o.data);
  if (found.length === 0) return EMPTY;
  const all = found.length === 1 ? found[0] ?? EMPTY : Buffer.concat(found);
  return all.subarray(0, all.length - (all.length % TAG_SIZE));
}

const EMPTY = Buffer.alloc(0);

/** Does `tags` hold `tag` as one of its whole tags? */
export function hasTag(tags: Buffer, tag: Buffer): boolean {
  for (let off = 0; off + TAG_SIZE <= tags.length; off += TAG_SIZE) {
    if (tags.compare(tag, 0, TAG_SIZE, off, off + TAG_SIZE) === 0) return true;
  }
  return false;
}

/**
 * `q` (header, question, additional records only, as a query has) with the
 * marker set to `tags`: the query's OPT keeps its size, flags, version and
 * other options, with one marker option in place of any it had. A query
 * without OPT gets one (UDP size `ednsSize`, no flags) just before a TSIG
 * record if it has one, else last. Returns `q` itself when its records do
 * not decode (nothing to build on; the server already rejected such
 * client queries).
 */
export function markQuery(q: Buffer, qend: number, tags: Buffer, ednsSize: number): Buffer {
  const recs = records(q, qend);
  if (!recs) return q;
  const opt = recs.find((r) => r.type === QTYPE.OPT);
  const kept: Buffer[] = [];
  let klass = ednsSize;
  let ttl = 0;
  if (opt) {
    // OPT's name is the root (one byte); class and TTL follow the type.
    klass = q.readUInt16BE(opt.start + 3);
    ttl = q.readUInt32BE(opt.start + 5);
    for (const o of options(q, opt.rdAt, opt.end)) if (o.code !== LOOP_OPTION) kept.push(q.subarray(o.start, o.start + 4 + o.data.length));
  }
  const keptLen = kept.reduce((n, b) => n + b.length, 0);
  const rdLen = keptLen + 4 + tags.length;
  const record = Buffer.allocUnsafe(11 + rdLen);
  record[0] = 0;
  record.writeUInt16BE(QTYPE.OPT, 1);
  record.writeUInt16BE(klass, 3);
  record.writeUInt32BE(ttl, 5);
  record.writeUInt16BE(rdLen, 9);
  let off = 11;
  for (const b of kept) off += b.copy(record, off);
  record.writeUInt16BE(LOOP_OPTION, off);
  record.writeUInt16BE(tags.length, off + 2);
  tags.copy(record, off + 4);

  const parts: Buffer[] = [q.subarray(0, qend)];
  let placed = false;
  for (const r of recs) {
    if (r === opt || (!opt && !placed && r.type === TSIG)) { parts.push(record); placed = true; }
    if (r !== opt) parts.push(q.subarray(r.start, r.end));
  }
  if (!placed) parts.push(record);
  const out = Buffer.concat(parts);
  out.writeUInt16BE(recs.length + (opt ? 0 : 1), 10);
  return out;
}
