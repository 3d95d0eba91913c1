import { isIPv4, isIPv6 } from 'node:net';

/**
 * Source networks of one acl policy, per family. Addresses are compared as
 * bytes under the prefix length; a handful of networks per policy makes a
 * linear scan cheaper than a tree.
 */
export class NetSet {
  private readonly v4: Array<{ bytes: Uint8Array; bits: number }> = [];
  private readonly v6: Array<{ bytes: Uint8Array; bits: number }> = [];

  /** `*`: every address of both families (CoreDNS: 0.0.0.0/0 and ::/0). */
  static all(): NetSet {
    const s = new NetSet();
    s.v4.push({ bytes: new Uint8Array(4), bits: 0 });
    s.v6.push({ bytes: new Uint8Array(16), bits: 0 });
    return s;
  }

  /** Adds "a.b.c.d[/n]" or "x::y[/n]" (a bare address is /32 or /128); false when it is not a network. */
  add(text: string): boolean {
    const slash = text.indexOf('/');
    const addr = slash < 0 ? text : text.slice(0, slash);
    const bytes = ipBytes(addr);
    if (bytes === null) return false;
    const max = bytes.length * 8;
    let bits = max;
    if (slash >= 0) {
      const n = text.slice(slash + 1);
      if (!/^\d{1,3}$/.test(n) || Number(n) > max) return false;
      bits = Number(n);
    }
    (bytes.length === 4 ? this.v4 : this.v6).push({ bytes, bits });
    return true;
  }

  has(ip: Uint8Array): boolean {
    const list = ip.length === 4 ? this.v4 : this.v6;
    for (let i = 0; i < list.length; i++) {
      const n = list[i];
      if (n !== undefined && within(ip, n.bytes, n.bits)) return true;
    }
    return false;
  }
}

function within(ip: Uint8Array, net: Uint8Array, bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (ip[i] !== net[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((ip[whole] ?? 0) & mask) === ((net[whole] ?? 0) & mask);
}

/**
 * The client's address as bytes: 4 for IPv4, also when a dual-stack socket
 * reports it as ::ffff:a.b.c.d (Go sees those as IPv4 too); 16 for IPv6, a
 * %zone dropped. null when it is not an address.
 */
export function ipBytes(text: string): Uint8Array | null {
  let a = text;
  const pct = a.indexOf('%');
  if (pct >= 0) a = a.slice(0, pct);
  if (a.length > 7 && a.slice(0, 7).toLowerCase() === '::ffff:' && isIPv4(a.slice(7))) a = a.slice(7);
  if (isIPv4(a)) return Uint8Array.from(a.split('.').map(Number));
  if (!isIPv6(a)) return null;
  return v6Bytes(a);
}

function v6Bytes(a: string): Uint8Array {
  const out = new Uint8Array(16);
  let s = a;
  // An embedded IPv4 tail (::ffff:1.2.3.4 outside the mapped case, 64:ff9b::1.2.3.4) becomes two groups.
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    const o = tail.split('.').map(Number);
    s = `${s.slice(0, lastColon + 1)}${(((o[0] ?? 0) << 8) | (o[1] ?? 0)).toString(16)}:${(((o[2] ?? 0) << 8) | (o[3] ?? 0)).toString(16)}`;
  }
  const [head = '', rest] = s.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}
