// Record data of the types the file plugin serves, from master-file fields
// to dns-packet's shape (which our encoder writes, or hands to dns-packet).

import { isIPv4, isIPv6 } from 'node:net';
import { ROOT_ZONE } from '../../corefile/zones.js';
import { compressIPv6 } from '../../dns/names.js';
import { unescapeBytes, type Token, ZoneError } from './zone-lexer.js';

/** Types we parse and serve, by mnemonic. */
export const TYPE_CODES: Readonly<Record<string, number>> = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, HINFO: 13, MX: 15, TXT: 16, AAAA: 28, SRV: 33, DS: 43, CAA: 257,
};

/** Types a zone file may hold that we refuse with a reason rather than as unknown. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  RRSIG: 'DNSSEC is not served', NSEC: 'DNSSEC is not served', NSEC3: 'DNSSEC is not served',
  NSEC3PARAM: 'DNSSEC is not served', DNSKEY: 'DNSSEC is not served', CDS: 'DNSSEC is not served',
  CDNSKEY: 'DNSSEC is not served', DNAME: 'DNAME substitution is not implemented',
  SVCB: 'not implemented', HTTPS: 'not implemented', NAPTR: 'not implemented', SPF: 'use TXT',
  SSHFP: 'not implemented', TLSA: 'not implemented', LOC: 'not implemented', URI: 'not implemented',
};

export const SUPPORTED_TYPES = Object.keys(TYPE_CODES).join(', ');

/** Why a type mnemonic (upper-case) is not accepted, or null when it is. */
export function typeProblem(type: string): string | null {
  if (TYPE_CODES[type] !== undefined) return null;
  const why = UNSUPPORTED[type] ?? (/^TYPE\d+$/.test(type) ? 'generic RFC 3597 records are not implemented' : undefined);
  if (why !== undefined) return `record type ${type} is not supported (${why}); supported: ${SUPPORTED_TYPES}`;
  return `unknown record type "${type}"; supported: ${SUPPORTED_TYPES}`;
}

const MAX_TTL = 2 ** 31 - 1; // RFC 2181 8
const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** "3600", or BIND's "1h30m", "1W" -> seconds; null when not a TTL or above 2^31-1. */
export function parseTTL(text: string): number | null {
  let v: number;
  if (/^\d+$/.test(text)) v = Number(text);
  else if (/^(\d+[smhdw])+$/i.test(text)) {
    v = 0;
    for (const m of text.matchAll(/(\d+)([smhdw])/gi)) v += Number(m[1]) * (UNIT_S[(m[2] ?? '').toLowerCase()] ?? 0);
  } else return null;
  return v <= MAX_TTL ? v : null;
}

/** Where names are read: the current $ORIGIN (lower-case, no dot, root ""), for errors the file. */
export interface NameContext {
  origin: string;
  file: string;
}

/**
 * A domain name as written -> absolute, without trailing dot ("" = root):
 * `@` is the origin, a name without a final unescaped dot is relative to it.
 */
export function absoluteName(tok: Token, ctx: NameContext, lower = true): string {
  const t = tok.text;
  let name: string;
  if (t === '@') name = ctx.origin;
  else if (t === '.') name = '';
  else if (t.endsWith('.') && !escapedAt(t, t.length - 1)) name = t.slice(0, -1);
  else name = ctx.origin === ROOT_ZONE ? t : `${t}.${ctx.origin}`;
  checkName(name, tok, ctx.file);
  const canonical = canonicalName(name);
  return lower ? canonical.toLowerCase() : canonical;
}

/**
 * The escapes our query parser writes (src/dns/query.ts): `\.` and `\\`,
 * `\DDD` for bytes up to 0x20 and from 0x7f, every other byte as itself. A
 * zone file may say `has\046dot` or `has\.dot`; both must match the query.
 */
export function canonicalName(name: string): string {
  if (!/[\\\u0000-\u0020\u007f-\uffff]/.test(name)) return name;
  return splitLabels(name).map((label) => {
    let out = '';
    for (const c of unescapeBytes(label) ?? Buffer.alloc(0)) {
      if (c === 0x2e || c === 0x5c) out += `\\${String.fromCharCode(c)}`;
      else if (c <= 0x20 || c >= 0x7f) out += `\\${c.toString().padStart(3, '0')}`;
      else out += String.fromCharCode(c);
    }
    return out;
  }).join('.');
}

/** The name one label up ("" above a single label), splitting at the first unescaped dot. */
export function parentName(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const c = name.charAt(i);
    if (c === '\\') i++;
    else if (c === '.') return name.slice(i + 1);
  }
  return '';
}

/** Is the character at `i` preceded by an odd number of backslashes? */
function escapedAt(s: string, i: number): boolean {
  let k = 0;
  while (i - 1 - k >= 0 && s[i - 1 - k] === '\\') k++;
  return k % 2 === 1;
}

function checkName(name: string, tok: Token, file: string): void {
  if (name === '') return;
  // The common case, plain ASCII without escapes: lengths are octets.
  if (!/[^\x21-\x5b\x5d-\x7e]/.test(name)) {
    if (name.length <= 253 && name.split('.').every((l) => l.length > 0 && l.length <= 63)) return;
  }
  let total = 1;
  for (const label of splitLabels(name)) {
    const bytes = unescapeBytes(label);
    if (label === '' || bytes === null || bytes.length > 63) {
      throw new ZoneError(file, tok.line, `bad domain name "${tok.text}": labels are 1 to 63 octets`);
    }
    total += bytes.length + 1;
  }
  if (total > 255) throw new ZoneError(file, tok.line, `domain name "${tok.text}" is longer than 255 octets`);
}

/** Labels of a name, splitting at unescaped dots only. */
export function splitLabels(name: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < name.length; i++) {
    const c = name.charAt(i);
    if (c === '\\' && i + 1 < name.length) { cur += c + name.charAt(i + 1); i++; continue; }
    if (c === '.') { out.push(cur); cur = ''; continue; }
    cur += c;
  }
  out.push(cur);
  return out;
}

function uint(tok: Token | undefined, max: number, what: string, file: string, line: number): number {
  if (tok === undefined) throw new ZoneError(file, line, `missing ${what}`);
  const v = /^\d+$/.test(tok.text) ? Number(tok.text) : NaN;
  if (!(v <= max)) throw new ZoneError(file, tok.line, `bad ${what} "${tok.text}": expected an integer from 0 to ${max}`);
  return v;
}

function ttlField(tok: Token | undefined, what: string, file: string, line: number): number {
  if (tok === undefined) throw new ZoneError(file, line, `missing ${what}`);
  const v = parseTTL(tok.text);
  if (v === null) throw new ZoneError(file, tok.line, `bad ${what} "${tok.text}": expected seconds (or 1h30m)`);
  return v;
}

function charString(tok: Token, file: string): Buffer {
  const b = unescapeBytes(tok.text);
  if (b === null) throw new ZoneError(file, tok.line, `bad escape in "${tok.text}": \\DDD is at most \\255`);
  return b;
}

const FIELDS: Record<string, [number, number, string]> = {
  A: [1, 1, 'an IPv4 address'], AAAA: [1, 1, 'an IPv6 address'], NS: [1, 1, 'a name server'],
  CNAME: [1, 1, 'a target name'], PTR: [1, 1, 'a target name'], MX: [2, 2, 'PREFERENCE EXCHANGE'],
  SRV: [4, 4, 'PRIORITY WEIGHT PORT TARGET'], SOA: [7, 7, 'MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM'],
  TXT: [1, Infinity, 'one or more strings'], HINFO: [2, 2, 'CPU OS'], CAA: [3, 3, 'FLAGS TAG VALUE'],
  DS: [4, Infinity, 'KEYTAG ALGORITHM DIGESTTYPE DIGEST'],
};

/** The data of one record of `type` (a key of TYPE_CODES) from its fields. */
export function parseRdata(type: string, f: Token[], ctx: NameContext, line: number): unknown {
  const { file } = ctx;
  const [min, max, usage] = FIELDS[type] ?? [0, Infinity, ''];
  if (f.length < min || f.length > max) {
    throw new ZoneError(file, line, `${type} record needs ${usage}, got ${f.length} field${f.length === 1 ? '' : 's'}`);
  }
  const at = (i: number): Token => {
    const t = f[i];
    if (t === undefined) throw new ZoneError(file, line, `${type} record needs ${usage}`);
    return t;
  };
  const first = at(0);
  switch (type) {
    case 'A':
      if (!isIPv4(first.text)) throw new ZoneError(file, first.line, `bad IPv4 address "${first.text}" in A record`);
      return first.text;
    case 'AAAA':
      if (!isIPv6(first.text) || first.text.includes('%')) throw new ZoneError(file, first.line, `bad IPv6 address "${first.text}" in AAAA record`);
      return compressIPv6(first.text);
    case 'NS': case 'CNAME': case 'PTR':
      return absoluteName(first, ctx);
    case 'MX':
      return { preference: uint(first, 65535, 'MX preference', file, line), exchange: absoluteName(at(1), ctx) };
    case 'SRV':
      return {
        priority: uint(first, 65535, 'SRV priority', file, line),
        weight: uint(f[1], 65535, 'SRV weight', file, line),
        port: uint(f[2], 65535, 'SRV port', file, line),
        // CoreDNS keeps the SRV target's spelling.
        target: absoluteName(at(3), ctx, false),
      };
    case 'SOA':
      return {
        mname: absoluteName(first, ctx),
        rname: absoluteName(at(1), ctx),
        serial: uint(f[2], 0xffffffff, 'SOA serial', file, line),
        refresh: ttlField(f[3], 'SOA refresh', file, line),
        retry: ttlField(f[4], 'SOA retry', file, line),
        expire: ttlField(f[5], 'SOA expire', file, line),
        minimum: ttlField(f[6], 'SOA minimum', file, line),
      };
    case 'TXT':
      return f.map((t) => charString(t, file));
    case 'HINFO':
      return { cpu: charString(first, file).toString('latin1'), os: charString(at(1), file).toString('latin1') };
    case 'CAA': {
      const flags = uint(first, 255, 'CAA flags', file, line);
      const tag = at(1);
      if (!/^[a-z0-9]+$/i.test(tag.text)) throw new ZoneError(file, tag.line, `bad CAA tag "${tag.text}": letters and digits only`);
      return { flags, tag: tag.text.toLowerCase(), value: charString(at(2), file).toString('utf8'), issuerCritical: (flags & 128) !== 0 };
    }
    case 'DS': {
      const digest = f.slice(3).map((t) => t.text).join('');
      if (!/^([0-9a-f]{2})+$/i.test(digest)) throw new ZoneError(file, at(3).line, `bad DS digest "${digest}": expected hex`);
      return {
        keyTag: uint(first, 65535, 'DS key tag', file, line),
        algorithm: uint(f[1], 255, 'DS algorithm', file, line),
        digestType: uint(f[2], 255, 'DS digest type', file, line),
        digest: Buffer.from(digest, 'hex'),
      };
    }
  }
  throw new ZoneError(file, line, typeProblem(type) ?? `record type ${type} has no parser`);
}
