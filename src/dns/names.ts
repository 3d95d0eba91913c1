import { isIPv4, isIPv6 } from 'node:net';

/** Names inside clusterdns are dot-separated, no trailing dot, root is "". */
export function normalizeName(name: string): string {
  let n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n === '.') n = '';
  return n;
}

/** Canonical lower-case key for a name (DNS matching is ASCII case-insensitive). */
export function nameKey(name: string): string {
  return normalizeName(name).toLowerCase();
}

/** Is `name` equal to `zone` or below it? Both lower-case, normalized; zone "" is the root. */
export function isSubdomain(name: string, zone: string): boolean {
  if (zone === '') return true;
  if (name.length === zone.length) return name === zone;
  return name.length > zone.length && name.endsWith(zone) && name.charCodeAt(name.length - zone.length - 1) === 46;
}

/** The part of `name` left of `zone` ("a.b" for name "a.b.zone"), or "" at the apex. */
export function stripZone(name: string, zone: string): string {
  if (zone === '') return name;
  if (name.length === zone.length) return '';
  return name.slice(0, name.length - zone.length - 1);
}

/** Absolute form with a trailing dot, as zone files and logs print names. */
export function fqdn(name: string): string {
  return name === '' ? '.' : name.endsWith('.') ? name : `${name}.`;
}

const LABEL = /^[a-z0-9_*]([a-z0-9_-]{0,61}[a-z0-9_])?$/i;

/** Checks a host name we are about to put on the wire (dns-packet encodes bad names silently). */
export function isValidName(name: string): boolean {
  const n = normalizeName(name);
  if (n === '') return true;
  if (n.length > 253) return false;
  for (const label of n.split('.')) {
    if (label.length === 0 || label.length > 63 || !LABEL.test(label)) return false;
  }
  return true;
}

/** 10.0.0.1 -> 1.0.0.10.in-addr.arpa; 2001:db8::1 -> 32 nibbles .ip6.arpa. */
export function reverseName(ip: string): string | null {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  if (isIPv6(ip)) {
    const hex = expandIPv6(ip);
    return hex === null ? null : `${hex.split('').reverse().join('.')}.ip6.arpa`;
  }
  return null;
}

/** The IP a reverse name stands for, or null if it is not a complete address. */
export function ipFromReverse(name: string): string | null {
  const n = nameKey(name);
  if (n.endsWith('.in-addr.arpa')) {
    const parts = n.slice(0, -'.in-addr.arpa'.length).split('.');
    if (parts.length !== 4) return null;
    for (const p of parts) if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return null;
    return parts.reverse().join('.');
  }
  if (n.endsWith('.ip6.arpa')) {
    const parts = n.slice(0, -'.ip6.arpa'.length).split('.');
    if (parts.length !== 32) return null;
    for (const p of parts) if (!/^[0-9a-f]$/.test(p)) return null;
    const hex = parts.reverse().join('');
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(hex.slice(i, i + 4));
    return compressIPv6(groups.join(':'));
  }
  return null;
}

/** 32 lower-case hex digits of an IPv6 address, or null. */
export function expandIPv6(ip: string): string | null {
  if (!isIPv6(ip)) return null;
  let addr = ip.toLowerCase();
  const zone = addr.indexOf('%');
  if (zone >= 0) addr = addr.slice(0, zone);
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = addr.match(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    addr = addr.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const groups = [...h, ...new Array<string>(fill).fill('0'), ...t];
  if (groups.length !== 8) return null;
  return groups.map((g) => g.padStart(4, '0')).join('');
}

/** Canonical (RFC 5952) text form of an IPv6 address. */
export function compressIPv6(ip: string): string {
  const hex = expandIPv6(ip);
  if (hex === null) return ip;
  const groups: string[] = [];
  for (let i = 0; i < 32; i += 4) groups.push(hex.slice(i, i + 4).replace(/^0+(?=.)/, ''));
  // Longest run of two or more zero groups becomes "::".
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Canonical form of any IP (v4 as is, v6 compressed), or null. */
export function canonicalIP(ip: string): string | null {
  if (isIPv4(ip)) return ip;
  if (isIPv6(ip)) return compressIPv6(ip);
  return null;
}
