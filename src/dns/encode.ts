import dnsPacket from 'dns-packet';
import { isIPv4 } from 'node:net';
import { FLAG, QTYPE } from './constants.js';
import { expandIPv6 } from './names.js';
import type { Edns } from './query.js';
import { NO_RECORDS, type RecordsReply, type RR } from './reply.js';

/** The bits of the query the answer must mirror. */
export interface QueryEcho {
  id: number;
  flags: number;
  /** raw[12, questionEnd) is the question, copied verbatim so the client's spelling comes back. */
  raw: Buffer;
  questionEnd: number;
  /** Lower-case question name: registered for compression so owners point at the question. */
  lname: string;
  edns: Edns | null;
}

/** What the encoder reads of a reply: rcode, AA and the three sections. */
export type Sections = Pick<RecordsReply, 'rcode' | 'aa' | 'answer' | 'authority' | 'additional' | 'ednsOptions'>;

/**
 * Encodings of reusable replies, kept by the server per reply object and
 * wire variant: never stored on the plugin's reply, so nothing has to be
 * stripped when a reply is copied or cached. Weak: a reply a plugin drops
 * takes its encodings with it.
 */
export type KeptEncodings = WeakMap<RecordsReply, Array<{ lname: string; wire: Buffer } | undefined>>;

export interface EncodeLimits {
  /** Largest message we may send; UDP cuts at a whole record and sets TC. */
  maxSize: number;
  /** Set RA: this block can recurse (forward is present). */
  recursionAvailable: boolean;
  /** UDP payload size we advertise in our OPT. */
  ednsSize: number;
}

const TYPE_CODE: Record<string, number> = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, HINFO: 13, MX: 15, TXT: 16, AAAA: 28, SRV: 33, DNAME: 39, OPT: 41,
};
const CLASS_CODE: Record<string, number> = { IN: 1, CS: 2, CH: 3, HS: 4, ANY: 255 };

// One scratch buffer: a message is built here, then copied out once at its final size.
const scratch = Buffer.allocUnsafe(65535 + 512);

class Writer {
  off = 0;
  private names = new Map<string, number>();

  constructor(readonly buf: Buffer) {}

  u8(v: number): void { this.buf[this.off++] = v; }
  u16(v: number): void { this.buf.writeUInt16BE(v & 0xffff, this.off); this.off += 2; }
  u32(v: number): void { this.buf.writeUInt32BE(v >>> 0, this.off); this.off += 4; }

  /** Remember where the question's name and its suffixes are, for pointers. */
  register(lname: string, at: number): void {
    if (lname === '' || lname.includes('\\')) return;
    let pos = at;
    let rest = lname;
    for (;;) {
      if (pos < 0x4000 && !this.names.has(rest)) this.names.set(rest, pos);
      const dot = rest.indexOf('.');
      if (dot < 0) return;
      pos += dot + 1;
      rest = rest.slice(dot + 1);
    }
  }

  /**
   * Writes a name, compressing its longest known suffix into a pointer (RFC
   * 1035 4.1.4). A name longer than 255 octets (RFC 1035 3.1), counted as
   * if uncompressed, is refused: the reply fails rather than go out broken.
   */
  name(input: string, compress = true): void {
    let n = input.endsWith('.') ? input.slice(0, -1) : input;
    if (n === '' || n === '.') { this.u8(0); return; }
    if (n.includes('\\')) { this.escapedName(n); return; }
    let key = n.toLowerCase();
    // Octets so far: the labels written, plus the root's.
    let total = 1;
    for (;;) {
      if (compress) {
        const ptr = this.names.get(key);
        if (ptr !== undefined) {
          // The suffix pointed at is 1 + byteLength(key) + 1 octets; a UTF-16 unit is at most 3 in UTF-8.
          if (total + key.length * 3 + 1 > 255 && total + Buffer.byteLength(key) + 1 > 255) throw tooLong(input);
          this.u16(0xc000 | ptr);
          return;
        }
        if (this.off < 0x4000) this.names.set(key, this.off);
      }
      const dot = n.indexOf('.');
      const label = dot < 0 ? n : n.slice(0, dot);
      const l = Buffer.byteLength(label);
      if (l === 0 || l > 63) throw new RangeError(`bad label in name "${input}"`);
      total += 1 + l;
      if (total > 255) throw tooLong(input);
      this.u8(l);
      this.off += this.buf.write(label, this.off, 'utf8');
      if (dot < 0) { this.u8(0); return; }
      n = n.slice(dot + 1);
      key = key.slice(dot + 1);
    }
  }

  /** Names carrying \. or \DDD escapes (only ever echoes of odd query names): no compression. */
  private escapedName(n: string): void {
    const bytes: number[] = [];
    let total = 1;
    const flush = (): void => {
      if (bytes.length === 0 || bytes.length > 63) throw new RangeError(`bad label in name "${n}"`);
      total += 1 + bytes.length;
      if (total > 255) throw tooLong(n);
      this.u8(bytes.length);
      for (const b of bytes) this.u8(b);
      bytes.length = 0;
    };
    for (let i = 0; i < n.length; i++) {
      const c = n.charCodeAt(i);
      if (c === 0x5c) {
        const d = n.slice(i + 1, i + 4);
        if (/^\d{3}$/.test(d)) { bytes.push(Number(d)); i += 3; } else { bytes.push(n.charCodeAt(i + 1)); i += 1; }
      } else if (c === 0x2e) flush();
      else bytes.push(c & 0xff);
    }
    flush();
    this.u8(0);
  }

  characterString(s: string | Buffer): void {
    const b = typeof s === 'string' ? Buffer.from(s) : s;
    for (let i = 0; i < b.length || i === 0; i += 255) {
      const part = b.subarray(i, Math.min(i + 255, b.length));
      this.u8(part.length);
      part.copy(this.buf, this.off);
      this.off += part.length;
      if (b.length === 0) break;
    }
  }
}

function tooLong(name: string): RangeError {
  return new RangeError(`name longer than 255 octets: "${name.length > 60 ? `${name.slice(0, 60)}...` : name}"`);
}

// Typed by ./dns-packet-answer.d.ts.
const fallback = dnsPacket.answer;

function writeRecord(w: Writer, rr: RR): void {
  const type = TYPE_CODE[rr.type];
  if (type === undefined || type === QTYPE.OPT) {
    // Rare types: dns-packet encodes them (uncompressed, which is always legal).
    fallback.encode(rr, w.buf, w.off);
    w.off += fallback.encodingLength(rr);
    return;
  }
  w.name(rr.name);
  w.u16(type);
  const base = rr as { class?: string; ttl?: number };
  w.u16(CLASS_CODE[base.class ?? 'IN'] ?? 1);
  w.u32(base.ttl ?? 0);
  const lenAt = w.off;
  w.off += 2;
  writeData(w, rr, type);
  w.buf.writeUInt16BE(w.off - lenAt - 2, lenAt);
}

function writeData(w: Writer, rr: RR, type: number): void {
  const data = (rr as { data: unknown }).data;
  switch (type) {
    case QTYPE.A: {
      const ip = data as string;
      if (!isIPv4(ip)) throw new RangeError(`bad A data "${ip}"`);
      for (const part of ip.split('.')) w.u8(Number(part));
      return;
    }
    case QTYPE.AAAA: {
      const hex = expandIPv6(data as string);
      if (hex === null) throw new RangeError(`bad AAAA data "${String(data)}"`);
      w.off += w.buf.write(hex, w.off, 'hex');
      return;
    }
    case QTYPE.CNAME: case QTYPE.PTR: case QTYPE.NS: case 39:
      w.name(data as string);
      return;
    case QTYPE.MX: {
      const mx = data as { preference?: number; exchange: string };
      w.u16(mx.preference ?? 0);
      w.name(mx.exchange);
      return;
    }
    case QTYPE.SRV: {
      const srv = data as { priority?: number; weight?: number; port: number; target: string };
      // u16() keeps the low 16 bits: port 70000 would go out as 4464.
      if (!Number.isInteger(srv.port) || srv.port < 0 || srv.port > 65535) throw new RangeError(`bad SRV port ${srv.port}`);
      w.u16(srv.priority ?? 0);
      w.u16(srv.weight ?? 0);
      w.u16(srv.port);
      // RFC 2782/3597: the SRV target is not compressed.
      w.name(srv.target, false);
      return;
    }
    case QTYPE.SOA: {
      const soa = data as { mname: string; rname: string; serial?: number; refresh?: number; retry?: number; expire?: number; minimum?: number };
      w.name(soa.mname);
      w.name(soa.rname);
      w.u32(soa.serial ?? 0);
      w.u32(soa.refresh ?? 0);
      w.u32(soa.retry ?? 0);
      w.u32(soa.expire ?? 0);
      w.u32(soa.minimum ?? 0);
      return;
    }
    case QTYPE.TXT: {
      const parts = Array.isArray(data) ? data as Array<string | Buffer> : [data as string | Buffer];
      for (const p of parts) w.characterString(p);
      return;
    }
    case QTYPE.HINFO: {
      const h = data as { cpu: string; os: string };
      w.characterString(h.cpu);
      w.characterString(h.os);
      return;
    }
  }
}

function writeOpt(w: Writer, limits: EncodeLimits, edns: Edns, rcode: number, options: Buffer | undefined): void {
  writeOptAt(w.buf, w.off, limits.ednsSize, edns, rcode, options);
  w.off += OPT_SIZE + (options?.length ?? 0);
}

export const OPT_SIZE = 11;

/**
 * Our OPT record at `at` (OPT_SIZE bytes): our UDP size, the extended
 * rcode's upper bits, version 0, DO echoed (RFC 3225), no other flags,
 * and the options a plugin added (Reply.ednsOptions: OPT_SIZE +
 * options.length bytes then). The only OPT we ever send: OPT is hop-by-hop
 * (RFC 6891 6.1.1).
 */
export function writeOptAt(buf: Buffer, at: number, udpSize: number, edns: Edns, rcode: number, options?: Buffer): void {
  buf[at] = 0;
  buf.writeUInt16BE(QTYPE.OPT, at + 1);
  buf.writeUInt16BE(udpSize, at + 3);
  buf.writeUInt32BE((((rcode >> 4) & 0xff) << 24 | (edns.do ? 0x8000 : 0)) >>> 0, at + 5);
  buf.writeUInt16BE(options?.length ?? 0, at + 9);
  if (options !== undefined) options.copy(buf, at + OPT_SIZE);
}

/**
 * Encodes a reply for the query, within `limits.maxSize`: records are
 * dropped whole from the end; losing any answer or authority record sets
 * TC (RFC 2181 9: a short additional section does not).
 */
export function encodeReply(q: QueryEcho, r: Sections, limits: EncodeLimits): Buffer {
  const w = new Writer(scratch);
  const rcode = r.rcode;
  let flags = FLAG.QR | (q.flags & (0x7800 | FLAG.RD | FLAG.CD)) | (rcode & 0xf);
  if (r.aa) flags |= FLAG.AA;
  if (limits.recursionAvailable) flags |= FLAG.RA;
  w.u16(q.id);
  w.u16(flags);
  w.u16(q.questionEnd > 12 ? 1 : 0);
  w.off = 12;
  if (q.questionEnd > 12) {
    q.raw.copy(scratch, 12, 12, q.questionEnd);
    w.register(q.lname, 12);
    w.off = q.questionEnd;
  }
  const reserve = q.edns ? OPT_SIZE + (r.ednsOptions?.length ?? 0) : 0;
  const limit = Math.min(limits.maxSize, 65535) - reserve;
  // Each section stops at the first record past the limit; a later section is then not started.
  const an = writeSection(w, r.answer, limit);
  const ns = an === r.answer.length ? writeSection(w, r.authority, limit) : 0;
  const ar = an === r.answer.length && ns === r.authority.length ? writeSection(w, r.additional, limit) : 0;
  const truncated = an < r.answer.length || ns < r.authority.length;
  if (q.edns) writeOpt(w, limits, q.edns, rcode, r.ednsOptions);
  if (truncated) flags |= FLAG.TC;
  scratch.writeUInt16BE(flags, 2);
  scratch.writeUInt16BE(an, 6);
  scratch.writeUInt16BE(ns, 8);
  scratch.writeUInt16BE(ar + (q.edns ? 1 : 0), 10);
  return Buffer.from(scratch.subarray(0, w.off));
}

/** Writes whole records while they fit under `limit`; returns how many were written. */
function writeSection(w: Writer, rrs: readonly RR[], limit: number): number {
  for (let i = 0; i < rrs.length; i++) {
    const rr = rrs[i];
    if (rr === undefined) return i;
    const before = w.off;
    writeRecord(w, rr);
    if (w.off > limit) {
      w.off = before;
      return i;
    }
  }
  return rrs.length;
}

/** A header-only error answer (FORMERR/NOTIMP/REFUSED...) echoing whatever of the query was readable. */
export function encodeError(q: QueryEcho, rcode: number, limits: EncodeLimits): Buffer {
  return encodeReply(q, { rcode, aa: false, answer: NO_RECORDS, authority: NO_RECORDS, additional: NO_RECORDS }, limits);
}

/** Which kept encoding fits a query: EDNS or not, DO or not, RA or not. */
export function wireVariant(edns: Edns | null, recursionAvailable: boolean): number {
  return (edns ? 1 : 0) | (edns?.do ? 2 : 0) | (recursionAvailable ? 4 : 0);
}

/**
 * Encodes a reusable reply once per variant and answers later queries
 * from a patched copy: ID, RD/CD from the query, the question's spelling.
 * A kept encoding is used only for the same question name (a reply shared
 * across names is re-encoded, never mixed up); truncated encodings are not
 * kept, since they depend on the client's buffer.
 */
export function encodeReusable(q: QueryEcho, r: RecordsReply, limits: EncodeLimits, encodings: KeptEncodings): Buffer {
  const variant = wireVariant(q.edns, limits.recursionAvailable);
  const all = encodings.get(r);
  const kept = all === undefined ? undefined : all[variant];
  if (kept !== undefined && kept.lname === q.lname && kept.wire.length <= limits.maxSize) {
    const w = kept.wire;
    // TypedArray.set and a plain loop for the short question: Buffer#copy's
    // argument checks cost about as much as the copying here (measured ~2x).
    const out = Buffer.allocUnsafe(w.length);
    out.set(w);
    out[0] = q.id >> 8;
    out[1] = q.id & 0xff;
    // Header bytes 2 and 3 exist: a kept encoding is a whole message (12 bytes at least).
    out[2] = ((w[2] ?? 0) & 0xfe) | ((q.flags >> 8) & 0x01);
    out[3] = ((w[3] ?? 0) & 0xef) | (q.flags & 0x10);
    const raw = q.raw;
    for (let i = 12, end = q.questionEnd; i < end; i++) out[i] = raw[i] ?? 0;
    return out;
  }
  const out = encodeReply(q, r, limits);
  if (((out[2] ?? 0) & 0x02) === 0) {
    if (all === undefined) encodings.set(r, variantSlots(variant, q.lname, out));
    else all[variant] = { lname: q.lname, wire: out };
  }
  return out;
}

/** The first kept encoding of a reply: its slot filled, the others empty. */
function variantSlots(variant: number, lname: string, wire: Buffer): Array<{ lname: string; wire: Buffer } | undefined> {
  const slots: Array<{ lname: string; wire: Buffer } | undefined> = [];
  slots[variant] = { lname, wire };
  return slots;
}
