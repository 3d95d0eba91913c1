// Names for record types, classes and rcodes as CoreDNS's rule parser
// (miekg/dns's tables) accepts them: case-insensitive, plus the generic
// TYPEnnn / CLASSnnn spellings of RFC 3597.

const TYPES: Record<string, number> = {
  A: 1, NS: 2, MD: 3, MF: 4, CNAME: 5, SOA: 6, MB: 7, MG: 8, MR: 9, NULL: 10, PTR: 12, HINFO: 13, MINFO: 14,
  MX: 15, TXT: 16, RP: 17, AFSDB: 18, X25: 19, ISDN: 20, RT: 21, NSAPPTR: 23, SIG: 24, KEY: 25, PX: 26,
  GPOS: 27, AAAA: 28, LOC: 29, NXT: 30, EID: 31, NIMLOC: 32, SRV: 33, ATMA: 34, NAPTR: 35, KX: 36, CERT: 37,
  DNAME: 39, OPT: 41, APL: 42, DS: 43, SSHFP: 44, IPSECKEY: 45, RRSIG: 46, NSEC: 47, DNSKEY: 48, DHCID: 49,
  NSEC3: 50, NSEC3PARAM: 51, TLSA: 52, SMIMEA: 53, HIP: 55, NINFO: 56, RKEY: 57, TALINK: 58, CDS: 59,
  CDNSKEY: 60, OPENPGPKEY: 61, CSYNC: 62, ZONEMD: 63, SVCB: 64, HTTPS: 65, SPF: 99, UINFO: 100, UID: 101,
  GID: 102, UNSPEC: 103, NID: 104, L32: 105, L64: 106, LP: 107, EUI48: 108, EUI64: 109, NXNAME: 128,
  URI: 256, CAA: 257, AVC: 258, AMTRELAY: 260, RESINFO: 261, TKEY: 249, TSIG: 250, IXFR: 251, AXFR: 252,
  MAILB: 253, MAILA: 254, ANY: 255, TA: 32768, DLV: 32769,
};

const CLASSES: Record<string, number> = { IN: 1, CS: 2, CH: 3, HS: 4, NONE: 254, ANY: 255 };

const RCODES: Record<string, number> = {
  NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, YXDOMAIN: 6, YXRRSET: 7,
  NXRRSET: 8, NOTAUTH: 9, NOTZONE: 10, BADSIG: 16, BADVERS: 16, BADKEY: 17, BADTIME: 18, BADMODE: 19,
  BADNAME: 20, BADALG: 21, BADTRUNC: 22, BADCOOKIE: 23,
};

function generic(s: string, prefix: string, max: number): number | null {
  const m = new RegExp(`^${prefix}(\\d{1,5})$`).exec(s);
  if (m === null) return null;
  const n = Number(m[1]);
  return n <= max ? n : null;
}

/** A record type by name ("aaaa", "TYPE65"), or null. */
export function typeCode(s: string): number | null {
  const u = s.toUpperCase();
  return TYPES[u] ?? generic(u, 'TYPE', 65535);
}

/** A class by name ("ch", "CLASS3"), or null. */
export function classCode(s: string): number | null {
  const u = s.toUpperCase();
  return CLASSES[u] ?? generic(u, 'CLASS', 65535);
}

/** An rcode as a number 0..23 or a name ("SERVFAIL"), or null. */
export function rcodeCode(s: string): number | null {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n <= 23 ? n : null;
  }
  return RCODES[s.toUpperCase()] ?? null;
}
