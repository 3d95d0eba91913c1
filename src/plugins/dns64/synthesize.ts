import { isIPv4, isIPv6 } from 'node:net';
import { compressIPv6, expandIPv6 } from '../../dns/names.js';
import type { RR } from '../../dns/reply.js';

/** An RFC 6052 prefix: its 16 bytes (host bits zero) and length. */
export interface Prefix {
  bytes: Uint8Array;
  bits: number;
}

/** RFC 6052 2.2: the prefix lengths with a defined address format. */
export const PREFIX_LENGTHS = [32, 40, 48, 56, 64, 96];

/** "64:ff9b::/96" -> Prefix, host bits cleared (as Go's ParseCIDR); a reason when it is not one. */
export function parsePrefix(text: string): Prefix | string {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const len = slash < 0 ? '' : text.slice(slash + 1);
  if (isIPv4(addr)) return `invalid prefix "${text}": an IPv6 prefix is needed`;
  if (!isIPv6(addr) || !/^\d{1,3}$/.test(len) || Number(len) > 128) return `invalid prefix "${text}": expected an IPv6 CIDR such as 64:ff9b::/96`;
  const bits = Number(len);
  if (!PREFIX_LENGTHS.includes(bits)) return `invalid prefix length /${bits} in "${text}": RFC 6052 allows ${PREFIX_LENGTHS.map((n) => `/${n}`).join(', ')}`;
  const hex = expandIPv6(addr);
  if (hex === null) return `invalid prefix "${text}"`;
  const bytes = Uint8Array.from(Buffer.from(hex, 'hex'));
  for (let i = bits / 8; i < 16; i++) bytes[i] = 0;
  return { bytes, bits };
}

/**
 * RFC 6052 2.2: the IPv4 address after the prefix, skipping bits 64-71
 * (the "u" octet, always zero); the suffix is zero.
 */
export function embed(p: Prefix, v4: string): string | null {
  if (!isIPv4(v4)) return null;
  const a = v4.split('.').map(Number);
  const v6 = new Uint8Array(16);
  let i = 0;
  let j = 0;
  for (; i < p.bits / 8; i++) v6[i] = p.bytes[i] ?? 0;
  for (; i < 8 && j < 4; i++, j++) v6[i] = a[j] ?? 0;
  if (i === 8) i++;
  for (; j < 4; i++, j++) v6[i] = a[j] ?? 0;
  const groups: string[] = [];
  for (let g = 0; g < 16; g += 2) groups.push((((v6[g] ?? 0) << 8) | (v6[g + 1] ?? 0)).toString(16));
  return compressIPv6(groups.join(':'));
}

/**
 * RFC 6147 5.1.7, as CoreDNS: every A of the A answer becomes an AAAA with
 * TTL min(A TTL, the AAAA answer's SOA TTL, or 600 without one); other
 * records (CNAMEs) pass unchanged (5.3.3).
 */
export function synthesize(p: Prefix, aAnswer: readonly RR[], aaaaAuthority: readonly RR[]): RR[] {
  let soaTtl = 600;
  for (const rr of aaaaAuthority) if (rr.type === 'SOA') soaTtl = rr.ttl ?? soaTtl;
  const out: RR[] = [];
  for (const rr of aAnswer) {
    if (rr.type !== 'A') { out.push(rr); continue; }
    const data = embed(p, rr.data);
    if (data === null) continue;
    out.push({ name: rr.name, type: 'AAAA', ttl: Math.min(rr.ttl ?? 0, soaTtl), data });
  }
  return out;
}
