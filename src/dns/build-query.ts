// Queries the server builds itself: forward's health checks and TCP
// fallback, and internal queries (CNAME chasing) given real bytes so every
// plugin sees a Request like a client's.
import { FLAG, QTYPE } from './constants.js';

/** Name text (\DDD and \X escapes allowed, as query.ts prints them) -> wire labels. */
export function encodeName(name: string): Buffer {
  const out: number[] = [];
  const n = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  if (n !== '') {
    let label: number[] = [];
    const flush = (): void => {
      if (label.length === 0 || label.length > 63) throw new RangeError(`bad label in name "${name}"`);
      out.push(label.length, ...label);
      label = [];
    };
    for (let i = 0; i < n.length; i++) {
      const c = n.charCodeAt(i);
      if (c === 0x5c) {
        const d = n.slice(i + 1, i + 4);
        if (/^\d{3}$/.test(d)) { label.push(Number(d) & 0xff); i += 3; } else { label.push(n.charCodeAt(i + 1) & 0xff); i += 1; }
      } else if (c === 0x2e) {
        flush();
      } else {
        label.push(c & 0xff);
      }
    }
    flush();
  }
  out.push(0);
  if (out.length > 255) throw new RangeError(`name too long: "${name}"`);
  return Buffer.from(out);
}

/**
 * A recursive query for (name, type, class) with an EDNS0 OPT record
 * (UDP size `ednsSize`): for queries the server makes itself (CNAME
 * chasing, health checks), which have no client bytes to forward.
 */
export function buildQuery(name: string, type: number, qclass = 1, opts: { rd?: boolean; ednsSize?: number } = {}): Buffer {
  const qname = encodeName(name);
  const hasOpt = opts.ednsSize !== undefined && opts.ednsSize > 0;
  const buf = Buffer.alloc(12 + qname.length + 4 + (hasOpt ? 11 : 0));
  buf.writeUInt16BE(0, 0);
  buf.writeUInt16BE(opts.rd === false ? 0 : FLAG.RD, 2);
  buf.writeUInt16BE(1, 4);
  buf.writeUInt16BE(hasOpt ? 1 : 0, 10);
  qname.copy(buf, 12);
  let off = 12 + qname.length;
  buf.writeUInt16BE(type, off);
  buf.writeUInt16BE(qclass, off + 2);
  off += 4;
  if (hasOpt) {
    buf[off] = 0;
    buf.writeUInt16BE(QTYPE.OPT, off + 1);
    buf.writeUInt16BE(opts.ednsSize ?? 0, off + 3);
    buf.writeUInt32BE(0, off + 5);
    buf.writeUInt16BE(0, off + 9);
  }
  return buf;
}
