// EDNS0 (RFC 6891) as the edns0 rules edit it: the request's OPT record as
// a list of options, the client-subnet option (RFC 7871) and the data the
// {variables} of a local option stand for.

import { isIPv4, isIPv6 } from 'node:net';
import { skipName } from '../../dns/wire.js';
import { expandIPv6 } from '../../dns/names.js';

export const OPT_TYPE = 41;
export const EDNS0_NSID = 3;
export const EDNS0_SUBNET = 8;
/** UDP size of an OPT record a rule adds to a query that had none (as CoreDNS: SetEdns0(4096)). */
export const ADDED_OPT_SIZE = 4096;

export interface EdnsOption {
  code: number;
  data: Buffer;
}

export interface OptRecord {
  /** The CLASS field: the sender's UDP payload size. */
  udpSize: number;
  /** The TTL field: extended rcode, version, DO and other flags. */
  ttl: number;
  options: EdnsOption[];
}

/**
 * The OPT record of a query (the additional section after `questionEnd`),
 * or null when it has none. The query passed parseQuery, but the options
 * inside the OPT were not looked at: they are checked here, and a
 * malformed option list is kept as one opaque option rather than trusted.
 */
export function readOpt(raw: Buffer, questionEnd: number): OptRecord | null {
  const ar = raw.length >= 12 ? raw.readUInt16BE(10) : 0;
  let off = questionEnd;
  for (let i = 0; i < ar; i++) {
    const end = skipName(raw, off);
    if (end < 0 || end + 10 > raw.length) return null;
    const type = raw.readUInt16BE(end);
    const rdlen = raw.readUInt16BE(end + 8);
    const rdAt = end + 10;
    if (rdAt + rdlen > raw.length) return null;
    if (type === OPT_TYPE) {
      return { udpSize: raw.readUInt16BE(end + 2), ttl: raw.readUInt32BE(end + 4), options: readOptions(raw.subarray(rdAt, rdAt + rdlen)) };
    }
    off = rdAt + rdlen;
  }
  return null;
}

function readOptions(rdata: Buffer): EdnsOption[] {
  const out: EdnsOption[] = [];
  let off = 0;
  while (off + 4 <= rdata.length) {
    const code = rdata.readUInt16BE(off);
    const len = rdata.readUInt16BE(off + 2);
    if (off + 4 + len > rdata.length) break;
    out.push({ code, data: Buffer.from(rdata.subarray(off + 4, off + 4 + len)) });
    off += 4 + len;
  }
  return out;
}

/** The OPT record as wire bytes (root owner, type 41). */
export function optBytes(o: OptRecord): Buffer {
  const rdlen = o.options.reduce((n, x) => n + 4 + x.data.length, 0);
  const out = Buffer.alloc(11 + rdlen);
  out.writeUInt16BE(OPT_TYPE, 1);
  out.writeUInt16BE(o.udpSize, 3);
  out.writeUInt32BE(o.ttl >>> 0, 5);
  out.writeUInt16BE(rdlen, 9);
  let off = 11;
  for (const x of o.options) {
    out.writeUInt16BE(x.code, off);
    out.writeUInt16BE(x.data.length, off + 2);
    x.data.copy(out, off + 4);
    off += 4 + x.data.length;
  }
  return out;
}

/** A client address as CoreDNS's request.Family() sees it: IPv4-mapped IPv6 counts as IPv4. */
export function addressBytes(ip: string): { family: 1 | 2; bytes: Buffer } | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const v4 = mapped?.[1] ?? (isIPv4(ip) ? ip : null);
  if (v4 !== null) return { family: 1, bytes: Buffer.from(v4.split('.').map(Number)) };
  if (!isIPv6(ip)) return null;
  const hex = expandIPv6(ip.replace(/%.*$/, ''));
  return hex === null ? null : { family: 2, bytes: Buffer.from(hex, 'hex') };
}

/**
 * The client-subnet option's data for a client address: family, source
 * prefix, scope 0, and the address cut to the prefix (only the octets the
 * prefix covers are sent, RFC 7871 6).
 */
export function subnetData(clientIp: string, v4Bits: number, v6Bits: number): Buffer | null {
  const a = addressBytes(clientIp);
  if (a === null) return null;
  const bits = a.family === 1 ? v4Bits : v6Bits;
  const octets = Math.ceil(bits / 8);
  const out = Buffer.alloc(4 + octets);
  out.writeUInt16BE(a.family, 0);
  out[2] = bits;
  out[3] = 0;
  for (let i = 0; i < octets; i++) {
    const keep = Math.min(8, bits - i * 8);
    out[4 + i] = (a.bytes[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

export const VARIABLES = ['{qname}', '{qtype}', '{client_ip}', '{client_port}', '{protocol}', '{server_ip}', '{server_port}'] as const;
export type Variable = (typeof VARIABLES)[number];

export function isVariable(s: string): s is Variable {
  return (VARIABLES as readonly string[]).includes(s);
}

/** What a {variable} needs to know about the query and the listener. */
export interface VariableSource {
  /** The question name as it stands (after earlier rules), absolute. */
  qname: string;
  qtype: number;
  remoteAddress: string;
  remotePort: number;
  proto: 'udp' | 'tcp';
  /** The listener's label, "dns://127.0.0.1:53" or "dns://:53" for every address. */
  server: string;
}

/**
 * The bytes a variable stands for, as CoreDNS writes them: names and the
 * protocol as text, qtype and ports as 16-bit numbers, addresses as 4 or
 * 16 octets. The server's address is the listener's; a listener on every
 * address reports the unspecified address of the client's family.
 * Null when it cannot be had (CoreDNS then leaves the query alone).
 */
export function variableData(v: Variable, s: VariableSource): Buffer | null {
  switch (v) {
    case '{qname}': return Buffer.from(s.qname, 'latin1');
    case '{qtype}': return u16(s.qtype);
    case '{client_ip}': return addressBytes(s.remoteAddress)?.bytes ?? null;
    case '{client_port}': return u16(s.remotePort);
    case '{protocol}': return Buffer.from(s.proto);
    case '{server_ip}': {
      const host = listenerHost(s.server);
      if (host !== '') return addressBytes(host)?.bytes ?? null;
      return addressBytes(s.remoteAddress)?.family === 2 ? Buffer.alloc(16) : Buffer.alloc(4);
    }
    case '{server_port}': {
      const port = Number(/:(\d+)$/.exec(s.server)?.[1]);
      return Number.isInteger(port) ? u16(port) : null;
    }
  }
}

function listenerHost(label: string): string {
  const hostPort = label.replace(/^[a-z]+:\/\//, '');
  const host = hostPort.slice(0, hostPort.lastIndexOf(':'));
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}
