// EDNS options (RFC 6891 6.1.2): code/length/data TLVs in the OPT record's RDATA.

import { walkMessage } from './wire.js';

export const EDNS_OPTION = { NSID: 3 } as const;

/** Does the message's OPT record carry an option with this code? False without an OPT or on malformed bytes. */
export function hasEdnsOption(msg: Buffer, code: number): boolean {
  const v = walkMessage(msg);
  const opt = v === null ? undefined : v.records[v.opt];
  if (opt === undefined) return false;
  for (let at = opt.rdAt; at + 4 <= opt.end;) {
    const len = msg.readUInt16BE(at + 2);
    if (at + 4 + len > opt.end) return false;
    if (msg.readUInt16BE(at) === code) return true;
    at += 4 + len;
  }
  return false;
}

/** One option's TLV bytes. */
export function ednsOption(code: number, data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + data.length);
  out.writeUInt16BE(code, 0);
  out.writeUInt16BE(data.length, 2);
  data.copy(out, 4);
  return out;
}
