// Server block keys: "[dns://|tls://]ZONE[:PORT]" where ZONE is a domain name or a
// CIDR that stands for its reverse zone(s), as CoreDNS reads them.

import { configError } from './errors.js';

export interface ServerKey {
  /** Lower-case, fully qualified, WITHOUT trailing dot; the root is ".". */
  zone: string;
  /** null: the server's default port (853 for tls://). */
  port: number | null;
  /** dns: plain DNS over UDP and TCP; tls: DNS over TLS (RFC 7858), TCP only, needs the tls plugin. */
  transport: 'dns' | 'tls';
}

/** The port of a tls:// key without one (RFC 7858). */
export const TLS_PORT = 853;

type At = { file: string; line: number };

/** Transports CoreDNS knows but we do not serve. */
const UNSUPPORTED = new Set(['https', 'https3', 'grpc', 'quic']);

export function parseServerKey(key: string, at: At): ServerKey[] {
  const fail = (why: string) => configError(at, `server key "${key}": ${why}`);
  let rest = key;
  let transport: ServerKey['transport'] = 'dns';

  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(rest);
  if (scheme) {
    const s = (scheme[1] ?? '').toLowerCase();
    if (s !== 'dns' && s !== 'tls') {
      throw fail(UNSUPPORTED.has(s) ? `${s}:// is not supported; only dns:// (plain DNS over UDP and TCP) and tls:// (DNS over TLS)` : `unknown transport ${s}://; only dns:// and tls:// are supported`);
    }
    transport = s;
    rest = rest.slice(scheme[0].length);
  }

  // A port is a run of digits after the last ':'. IPv6 CIDRs contain ':' too,
  // but always end in "/prefix", so they never look like a port.
  let port: number | null = null;
  const colon = rest.lastIndexOf(':');
  if (colon !== -1) {
    const p = rest.slice(colon + 1);
    if (/^\d+$/.test(p)) {
      port = Number(p);
      if (port < 1 || port > 65535) throw fail(`port ${p} out of range 1..65535`);
      rest = rest.slice(0, colon);
    } else if (p === '') {
      throw fail("missing port after ':'");
    } else if (!rest.includes('/')) {
      throw fail(`invalid port "${p}"`);
    }
  }
  if (rest === '') throw fail('empty zone (write ".:53" for the root zone)');

  const zones = rest.includes('/') ? reverseZones(rest, fail) : [normalizeZone(rest, fail)];
  return zones.map((zone) => ({ zone, port, transport }));
}

function normalizeZone(name: string, fail: (why: string) => Error): string {
  let z = name.toLowerCase();
  if (z === '.') return '.';
  if (z.endsWith('.')) z = z.slice(0, -1);
  if (z.length > 253) throw fail('zone name longer than 253 characters');
  for (const label of z.split('.')) {
    if (label === '') throw fail('empty label in zone name');
    if (label.length > 63) throw fail(`label "${label}" longer than 63 characters`);
    if (!/^[a-z0-9_-]+$/.test(label)) throw fail(`invalid character in label "${label}"`);
  }
  return z;
}

/**
 * "10.0.0.0/24" -> ["0.0.10.in-addr.arpa"]. A prefix that is not on an octet
 * (IPv4) or nibble (IPv6) boundary is widened to the next boundary and
 * expands to every zone inside it, e.g. /22 -> four /24 zones, like CoreDNS.
 * Host bits are ignored, as Go's net.ParseCIDR does.
 */
function reverseZones(cidr: string, fail: (why: string) => Error): string[] {
  const slash = cidr.indexOf('/');
  const addr = cidr.slice(0, slash);
  const bitsText = cidr.slice(slash + 1);
  const v6 = addr.includes(':');
  const bytes = v6 ? parseIPv6(addr) : parseIPv4(addr);
  const maxBits = v6 ? 128 : 32;
  if (!bytes || !/^\d{1,3}$/.test(bitsText) || Number(bitsText) > maxBits) throw fail('invalid CIDR');
  const ones = Number(bitsText);

  // Work in units of one reverse label: octets for IPv4, nibbles for IPv6.
  const unitBits = v6 ? 4 : 8;
  const units = v6 ? bytes.flatMap((b) => [b >> 4, b & 15]) : bytes;
  const nUnits = Math.ceil(ones / unitBits);
  for (let i = 0; i < units.length; i++) {
    const keep = Math.min(Math.max(ones - i * unitBits, 0), unitBits); // network bits in unit i
    units[i] = (units[i] ?? 0) & (((1 << keep) - 1) << (unitBits - keep));
  }
  // The free bits (at most unitBits-1 of them) all sit in the last kept unit.
  const free = nUnits * unitBits - ones;
  const suffix = v6 ? 'ip6.arpa' : 'in-addr.arpa';
  const zones: string[] = [];
  for (let k = 0; k < 1 << free; k++) {
    const labels = units.slice(0, nUnits);
    if (free > 0) labels[nUnits - 1] = (labels[nUnits - 1] ?? 0) | k;
    zones.push([...labels.reverse().map((u) => u.toString(v6 ? 16 : 10)), suffix].join('.'));
  }
  return zones;
}

function parseIPv4(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return parts.map(Number);
}

/** 16 bytes, or null. Accepts "::" compression and a dotted IPv4 tail. */
function parseIPv6(s: string): number[] | null {
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (const [i, it] of items.entries()) {
      if (i === items.length - 1 && it.includes('.')) {
        const v4 = parseIPv4(it);
        if (!v4) return null;
        const [a = 0, b = 0, c = 0, d = 0] = v4;
        out.push((a << 8) | b, (c << 8) | d);
      } else if (/^[0-9a-f]{1,4}$/i.test(it)) {
        out.push(parseInt(it, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return all.flatMap((g) => [g >> 8, g & 255]);
}
