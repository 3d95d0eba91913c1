// Numeric codes used on the hot path; names only where humans read them.
import packetTypes from 'dns-packet/types.js';

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const;

const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP',
  5: 'REFUSED', 6: 'YXDOMAIN', 7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH',
  10: 'NOTZONE', 16: 'BADVERS',
};

export function rcodeName(code: number): string {
  return RCODE_NAMES[code] ?? `RCODE${code}`;
}

export const QTYPE = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, HINFO: 13, MX: 15, TXT: 16,
  AAAA: 28, SRV: 33, OPT: 41, IXFR: 251, AXFR: 252, ANY: 255,
} as const;

const TYPE_NAMES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 13: 'HINFO', 15: 'MX',
  16: 'TXT', 28: 'AAAA', 33: 'SRV', 35: 'NAPTR', 41: 'OPT', 43: 'DS',
  46: 'RRSIG', 47: 'NSEC', 48: 'DNSKEY', 50: 'NSEC3', 64: 'SVCB', 65: 'HTTPS',
  99: 'SPF', 251: 'IXFR', 252: 'AXFR', 255: 'ANY', 257: 'CAA',
};

export function typeName(code: number): string {
  return TYPE_NAMES[code] ?? `TYPE${code}`;
}

export const QCLASS = { IN: 1, CH: 3, ANY: 255 } as const;

export function className(code: number): string {
  return code === 1 ? 'IN' : code === 3 ? 'CH' : code === 255 ? 'ANY' : `CLASS${code}`;
}

export const OPCODE_QUERY = 0;

// Header flag bits (second 16-bit word).
export const FLAG = {
  QR: 0x8000,
  AA: 0x0400,
  TC: 0x0200,
  RD: 0x0100,
  RA: 0x0080,
  AD: 0x0020,
  CD: 0x0010,
} as const;

/** What a UDP answer may grow to without EDNS (RFC 1035). */
export const UDP_PLAIN_MAX = 512;
/** Our default cap on EDNS UDP answers (DNS flag day 2020: avoid fragmentation). */
export const UDP_EDNS_CAP = 1232;

/** A type's code from its name as written in a Corefile ("AAAA", "TYPE65"); null when unknown. */
export function typeCode(name: string): number | null {
  const upper = name.toUpperCase();
  for (const [code, n] of Object.entries(TYPE_NAMES)) if (n === upper) return Number(code);
  const m = /^TYPE(\d{1,5})$/.exec(upper);
  if (m !== null && Number(m[1]) <= 0xffff) return Number(m[1]);
  const t = packetTypes.toType(upper);
  return t > 0 ? t : null;
}
