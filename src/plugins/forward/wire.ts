// Wire-level helpers for talking to upstreams: random IDs, the query we
// send, and the checks a reply must pass before we believe it.

import { randomFillSync } from 'node:crypto';
import { FLAG } from '../../dns/constants.js';

// IDs come from the OS CSPRNG, fetched in batches (one syscall per 2048 IDs).
const idPool = Buffer.alloc(4096);
let idOff = idPool.length;

/** A 16-bit query ID nobody off-path can predict. */
export function randomId(): number {
  if (idOff >= idPool.length) {
    randomFillSync(idPool);
    idOff = 0;
  }
  const v = idPool.readUInt16BE(idOff);
  idOff += 2;
  return v;
}

/** Why a reply was not accepted; null when it was. */
export type Mismatch = 'malformed' | 'id' | 'question' | 'source';

/**
 * Accepts a reply only if it is a response (QR) with our ID and exactly our
 * question: the same name (ASCII case-insensitive, so an upstream that
 * lower-cases names still matches), type and class.
 * `question` is the question section we sent: name bytes, then type and class.
 */
export function checkReply(reply: Buffer, id: number, question: Buffer): Mismatch | null {
  const qlen = question.length;
  if (reply.length < 12 + qlen) return 'malformed';
  if ((reply.readUInt16BE(2) & FLAG.QR) === 0) return 'malformed';
  if (reply.readUInt16BE(0) !== id) return 'id';
  if (reply.readUInt16BE(4) !== 1) return 'question';
  const nameLen = qlen - 4;
  for (let i = 0; i < nameLen; i++) {
    // In bounds: reply.length >= 12 + qlen was checked above.
    let a = reply[12 + i] ?? 0;
    let b = question[i] ?? 0;
    if (a === b) continue;
    // Fold ASCII letters only; label length bytes are <= 63 and never letters.
    if (a >= 0x41 && a <= 0x5a) a |= 0x20;
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (a !== b) return 'question';
  }
  for (let i = nameLen; i < qlen; i++) if (reply[12 + i] !== question[i]) return 'question';
  return null;
}

/** A copy of `msg` carrying `id`. */
export function withId(msg: Buffer, id: number): Buffer {
  const out = Buffer.from(msg);
  out.writeUInt16BE(id, 0);
  return out;
}

/** Offset just past the question of a message with one question, or -1. */
export function questionEnd(msg: Buffer): number {
  let off = 12;
  for (let hops = 0; hops < 128; hops++) {
    if (off >= msg.length) return -1;
    const l = msg[off] ?? 0;
    if (l === 0) return off + 1 + 4 <= msg.length ? off + 5 : -1;
    if (l > 63) return -1;
    off += 1 + l;
  }
  return -1;
}

/** Is the TC bit set? */
export function truncated(reply: Buffer): boolean {
  return reply.length >= 4 && (reply.readUInt16BE(2) & FLAG.TC) !== 0;
}

/** Header rcode (low 4 bits; extended rcodes in OPT are not read). */
export function rcodeOfWire(reply: Buffer): number {
  return reply.length >= 4 ? (reply[3] ?? 2) & 0xf : 2;
}
