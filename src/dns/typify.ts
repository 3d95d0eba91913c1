// CoreDNS's response typing (plugin/pkg/response.Typify), which decides
// what plugins like `minimal` may touch: read from our Reply, whether it
// carries sections or an upstream's relayed message.

import { QTYPE, RCODE } from './constants.js';
import type { RecordsReply, Reply } from './reply.js';
import { walkMessage } from './wire.js';

export type ResponseType = 'NoError' | 'NameError' | 'NoData' | 'Delegation' | 'ServerError' | 'OtherError' | 'Meta';

const RRSIG = 46;

/** What Typify needs of a message: rcode, answer count, authority types, RRSIG validity windows. */
interface Shape {
  rcode: number;
  answers: number;
  authorityTypes: number[];
  /** [inception, expiration] of every RRSIG in any section. */
  sigs: Array<[number, number]>;
}

function shapeOfWire(wire: Buffer): Shape | null {
  const v = walkMessage(wire);
  if (v === null) return null;
  const shape: Shape = { rcode: v.rcode, answers: 0, authorityTypes: [], sigs: [] };
  for (const rr of v.records) {
    if (rr.section === 0) shape.answers++;
    else if (rr.section === 1) shape.authorityTypes.push(rr.type);
    if (rr.type === RRSIG && rr.rdLen >= 16) shape.sigs.push([wire.readUInt32BE(rr.rdAt + 12), wire.readUInt32BE(rr.rdAt + 8)]);
  }
  return shape;
}

const TYPE_NUM: Record<string, number> = { SOA: QTYPE.SOA, NS: QTYPE.NS };

function shapeOfSections(r: RecordsReply): Shape {
  const sigs: Array<[number, number]> = [];
  for (const rr of [...r.answer, ...r.authority, ...r.additional]) {
    if (rr.type !== 'RRSIG') continue;
    const d = (rr as { data?: { inception?: number; expiration?: number } }).data;
    sigs.push([d?.inception ?? 0, d?.expiration ?? 0]);
  }
  return { rcode: r.rcode, answers: r.answer.length, authorityTypes: r.authority.map((rr) => TYPE_NUM[rr.type] ?? 0), sigs };
}

/** RFC 4034 3.1.5: the window in serial number arithmetic, as miekg/dns's ValidityPeriod. */
function sigValid([inception, expiration]: [number, number], now: number): boolean {
  return ((now - inception) >>> 0) < 0x80000000 && ((expiration - now) >>> 0) < 0x80000000;
}

/**
 * The response type of `r` to a question of type `qtype`; `dnssecOk` is
 * the query's DO bit (an answer with an expired signature is then an
 * error, as in CoreDNS). An unreadable relayed message is OtherError.
 */
export function typify(r: Reply, qtype: number, dnssecOk: boolean, nowSeconds = Math.floor(Date.now() / 1000)): ResponseType {
  if (qtype === QTYPE.AXFR || qtype === QTYPE.IXFR) return 'Meta';
  if (r.kind === 'drop') return 'OtherError';
  if (r.kind === 'transfer') return 'Meta';
  const s = r.kind === 'relay' ? shapeOfWire(r.wire) : shapeOfSections(r);
  if (s === null) return 'OtherError';
  const rcode = r.kind === 'relay' ? r.rcode : s.rcode;
  const now = nowSeconds >>> 0;
  if (dnssecOk && s.sigs.some((sig) => !sigValid(sig, now))) return 'OtherError';
  if (s.answers > 0 && rcode === RCODE.NOERROR) return 'NoError';
  if (s.answers > 0 && rcode === RCODE.NXDOMAIN) return 'OtherError';
  const soa = s.authorityTypes.includes(QTYPE.SOA);
  const ns = s.authorityTypes.filter((t) => t === QTYPE.NS).length;
  if (soa && rcode === RCODE.NOERROR) return 'NoData';
  if (rcode === RCODE.NXDOMAIN) return 'NameError';
  if (rcode === RCODE.SERVFAIL || rcode === RCODE.NOTIMP) return 'ServerError';
  if (ns > 0 && rcode === RCODE.NOERROR) return 'Delegation';
  if (rcode === RCODE.NOERROR) return 'NoError';
  return 'OtherError';
}
