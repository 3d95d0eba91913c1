import { RCODE } from './constants.js';

/** CoreDNS's response classes, used by `log { class }` and `errors`. */
export type ResponseClass = 'success' | 'denial' | 'error';

/** NXDOMAIN and NODATA are denial; other non-NOERROR rcodes are errors. */
export function classifyWire(wire: Buffer): ResponseClass {
  const rcode = wire.length >= 4 ? wire.readUInt8(3) & 0xf : RCODE.SERVFAIL;
  if (rcode === RCODE.NXDOMAIN) return 'denial';
  if (rcode !== RCODE.NOERROR) return 'error';
  return wire.length >= 8 && wire.readUInt16BE(6) > 0 ? 'success' : 'denial';
}
