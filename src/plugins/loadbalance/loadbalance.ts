import { QTYPE, RCODE } from '../../dns/constants.js';
import { sectionsOf } from '../../dns/relay.js';
import { addressed, records, relay, reusable, type RecordsReply, type RelayReply, type Reply, type RR } from '../../dns/reply.js';
import type { Handler, Plugin, Request } from '../../server/plugin.js';
import { readNameKey, skipName } from '../../dns/wire.js';

/**
 * round_robin, as CoreDNS: every NOERROR answer leaves with its A and AAAA
 * (and MX) records in random order, CNAMEs first (glibc wants the chain
 * before the addresses). Answers are never shuffled in place: a plugin's
 * precomputed arrays and buffers stay as they were.
 */
export class LoadBalancePlugin implements Plugin {
  readonly name = 'loadbalance';
  /**
   * A reusable reply (a plugin's memoized answer, whose encoding the server
   * keeps) gets a few fixed reorderings, each reusable in turn, instead of
   * a fresh shuffle that would be re-encoded on every query.
   */
  private readonly variants = new WeakMap<RecordsReply, RecordsReply[]>();

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    if (req.type === QTYPE.AXFR || req.type === QTYPE.IXFR) return next(req);
    const r = next(req);
    if (r instanceof Promise) return r.then((x) => this.balance(x));
    return this.balance(r);
  }

  private balance(r: Reply): Reply {
    if (r.kind !== 'records' || !r.reusable || r.rcode !== RCODE.NOERROR) return shuffleReply(r);
    let vs = this.variants.get(r);
    if (vs === undefined) {
      vs = rotations(r);
      this.variants.set(r, vs);
    }
    // rotations() returns one variant at least; `r` itself stands in otherwise.
    return vs[vs.length === 1 ? 0 : Math.floor(Math.random() * vs.length)] ?? r;
  }
}

/** Most fixed orderings kept per reusable reply; with more records, the first record steps through the list evenly. */
const MAX_VARIANTS = 32;

/**
 * Orderings of a reusable reply: variant i rotates every section's address
 * (and MX) records by a step, CNAMEs first. Each is itself reusable. A
 * reply with nothing to reorder is its only variant.
 */
export function rotations(r: RecordsReply): RecordsReply[] {
  let n = 0;
  let moves = false;
  for (const list of [r.answer, r.authority, r.additional]) {
    const ordered = arrange(list, 0);
    if (ordered !== list) moves = true;
    let a = 0, m = 0;
    for (const rr of list) if (rr.type === 'A' || rr.type === 'AAAA') a++; else if (rr.type === 'MX') m++;
    n = Math.max(n, a, m);
  }
  if (n < 2 && !moves) return [r];
  const count = Math.min(Math.max(n, 1), MAX_VARIANTS);
  const out: RecordsReply[] = [];
  for (let i = 0; i < count; i++) {
    const step = Math.floor((i * n) / count);
    out.push(reusable(r.rcode, r.by, r.aa, arrange(r.answer, step), arrange(r.authority, step), arrange(r.additional, step)));
  }
  return out;
}

/** Records by the part they play in CoreDNS's order. */
function partition(list: RR[]): { cname: RR[]; rest: RR[]; address: RR[]; mx: RR[] } {
  const cname: RR[] = [], rest: RR[] = [], address: RR[] = [], mx: RR[] = [];
  for (const rr of list) {
    switch (rr.type) {
      case 'CNAME': cname.push(rr); break;
      case 'A': case 'AAAA': address.push(rr); break;
      case 'MX': mx.push(rr); break;
      default: rest.push(rr);
    }
  }
  return { cname, rest, address, mx };
}

/** CoreDNS's order (CNAMEs, others, addresses, MX) with addresses and MX rotated by `step`; same array if unchanged. */
function arrange(list: RR[], step: number): RR[] {
  if (list.length <= 1) return list;
  const { cname, rest, address, mx } = partition(list);
  const out = [...cname, ...rest, ...rotate(address, step), ...rotate(mx, step)];
  return out.every((rr, i) => rr === list[i]) ? list : out;
}

function rotate(a: RR[], step: number): RR[] {
  if (a.length < 2) return a;
  const k = step % a.length;
  return k === 0 ? a : [...a.slice(k), ...a.slice(0, k)];
}

export function shuffleReply(r: Reply): Reply {
  if (r.rcode !== RCODE.NOERROR || r.kind === 'drop' || r.kind === 'transfer') return r;
  return r.kind === 'relay' ? shuffleRelay(r) : shuffleRecords(r);
}

function shuffleRelay(r: RelayReply): Reply {
  const w = shuffleWire(r.wire);
  if (w === r.wire) return r;
  if (w !== null) return r.addressed ? addressed(r.rcode, r.by, r.aa, w) : relay(r.rcode, r.by, r.aa, w);
  // Reordering needed (a CNAME after an address, several MX): decode, as CoreDNS works on sections.
  let s: RecordsReply;
  try { s = sectionsOf(r.wire, r.by); } catch { return r; }
  return records(s.rcode, r.by, s.aa, roundRobin(s.answer), roundRobin(s.authority), roundRobin(s.additional));
}

function shuffleRecords(r: RecordsReply): RecordsReply {
  const answer = roundRobin(r.answer);
  const authority = roundRobin(r.authority);
  const additional = roundRobin(r.additional);
  if (answer === r.answer && authority === r.authority && additional === r.additional) return r;
  // A new reply: not the plugin's memoized object, so no kept encoding comes along.
  return records(r.rcode, r.by, r.aa, answer, authority, additional, r.error);
}

/**
 * CoreDNS's roundRobin on one section: all A (or all AAAA) are shuffled;
 * a mixed section becomes CNAMEs, other records, shuffled addresses,
 * shuffled MX. Returns the same array when nothing moves.
 */
export function roundRobin(list: RR[]): RR[] {
  const n = list.length;
  if (n <= 1) return list;
  const t0 = list[0]?.type;
  let same = true;
  for (const rr of list) if (rr.type !== t0) { same = false; break; }
  if (same) return t0 === 'A' || t0 === 'AAAA' ? shuffle(list.slice()) : list;
  const { cname, rest, address, mx } = partition(list);
  if (cname.length === 0 && address.length === 0 && mx.length === 0) return list;
  return [...cname, ...rest, ...shuffle(address), ...shuffle(mx)];
}

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const t = a[i];
    const u = a[j];
    if (t === undefined || u === undefined) continue;
    a[i] = u;
    a[j] = t;
  }
  return a;
}

// Scratch for shuffleWire (one message at a time: the event loop is single-threaded).
const recSec: number[] = [];
const recType: number[] = [];
const recRd: number[] = [];
const recOwner: number[] = [];
const recName: number[] = [];
const scratch = Buffer.allocUnsafe(16 * 256);

/**
 * Shuffles address records inside a wire message without decoding it: the
 * records of one RRset (same owner, type, class) differ only in RDATA, of
 * fixed size for A (4) and AAAA (16), so permuting RDATA permutes the
 * records and leaves every offset and compression pointer valid.
 * Returns `wire` itself when there is nothing to shuffle, a shuffled copy,
 * or null when records would have to move (the caller decodes).
 */
export function shuffleWire(wire: Buffer): Buffer | null {
  const len = wire.length;
  if (len < 12) return wire;
  const qd = wire.readUInt16BE(4);
  const an = wire.readUInt16BE(6);
  const ns = wire.readUInt16BE(8);
  const total = an + ns + wire.readUInt16BE(10);
  if (qd > 1 || 12 + qd * 5 + total * 11 > len) return wire;
  let off = 12;
  if (qd === 1) {
    off = skipName(wire, off);
    if (off < 0) return wire;
    off += 4;
  }
  let n = 0;
  let section = -1;
  let sawAddress = false;
  let mx = 0;
  for (let i = 0; i < total; i++) {
    const nameAt = off;
    off = skipName(wire, off);
    if (off < 0 || off + 10 > len) return wire;
    const type = wire.readUInt16BE(off);
    const rclass = wire.readUInt16BE(off + 2);
    const rdLen = wire.readUInt16BE(off + 8);
    const rdAt = off + 10;
    off = rdAt + rdLen;
    if (off > len) return wire;
    const sec = i < an ? 0 : i < an + ns ? 1 : 2;
    if (sec !== section) { section = sec; sawAddress = false; mx = 0; }
    if (type === QTYPE.CNAME) {
      if (sawAddress) return null;
    } else if (type === QTYPE.MX) {
      if (++mx > 1) return null;
    } else if (((type === QTYPE.A && rdLen === 4) || (type === QTYPE.AAAA && rdLen === 16)) && rclass === 1 && n < 256) {
      sawAddress = true;
      recSec[n] = sec;
      recType[n] = type;
      recRd[n] = rdAt;
      recName[n] = nameAt;
      recOwner[n] = literalAt(wire, nameAt);
      n++;
    }
  }
  if (n < 2) return wire;
  let out: Buffer | null = null;
  // Six (section, A|AAAA) sets; usually there is one.
  for (let combo = 0; combo < 6; combo++) {
    const sec = combo >> 1;
    const type = combo & 1 ? QTYPE.AAAA : QTYPE.A;
    const idx: number[] = [];
    let one = true;
    for (let i = 0; i < n; i++) {
      if (recSec[i] !== sec || recType[i] !== type) continue;
      const i0 = idx[0];
      if (i0 !== undefined && recOwner[i] !== recOwner[i0]) one = false;
      idx.push(i);
    }
    if (idx.length < 2) continue;
    const size = type === QTYPE.A ? 4 : 16;
    // Usually every record points at one spelling of the owner; otherwise compare the names.
    if (one) {
      out = permute(out ?? Buffer.from(wire), idx, size);
      continue;
    }
    const byName = new Map<string, number[]>();
    for (const i of idx) {
      const k = readNameKey(wire, recName[i] ?? 0);
      if (k === null) return out ?? wire;
      const g = byName.get(k);
      if (g === undefined) byName.set(k, [i]); else g.push(i);
    }
    for (const g of byName.values()) if (g.length > 1) out = permute(out ?? Buffer.from(wire), g, size);
  }
  return out ?? wire;
}

/** Where the labels of the name at `at` are written: past any leading compression pointers. */
function literalAt(buf: Buffer, at: number): number {
  // at + 1 < buf.length: both bytes read below exist.
  for (let hops = 0; hops < 16 && at + 1 < buf.length && ((buf[at] ?? 0) & 0xc0) === 0xc0; hops++) {
    at = (((buf[at] ?? 0) & 0x3f) << 8) | (buf[at + 1] ?? 0);
  }
  return at;
}

/** Writes the RDATA of records `idx` back in a random order (byte loops: copy() costs more for 4 bytes). */
function permute(out: Buffer, idx: number[], size: number): Buffer {
  const k = idx.length;
  const from = new Array<number>(k);
  // recRd holds offsets of whole RDATA fields of `size` bytes found by shuffleWire: every byte read exists.
  for (let j = 0; j < k; j++) {
    const at = recRd[idx[j] ?? 0] ?? 0;
    const base = j * size;
    for (let b = 0; b < size; b++) scratch[base + b] = out[at + b] ?? 0;
    from[j] = j;
  }
  shuffle(from);
  for (let j = 0; j < k; j++) {
    const at = recRd[idx[j] ?? 0] ?? 0;
    const base = (from[j] ?? j) * size;
    for (let b = 0; b < size; b++) out[at + b] = scratch[base + b] ?? 0;
  }
  return out;
}
