// One resource record in zone-file text ("name [ttl] [class] type rdata"),
// as CoreDNS reads a rendered template with dns.NewRR: the origin is the
// root, the TTL defaults to 3600 and the class to IN, ( ) may wrap fields,
// ";" starts a comment. Only the types clusterdns encodes are accepted.
// (Kept small and local; a shared zone-file parser may replace it.)

import { isIPv4, isIPv6 } from 'node:net';
import { compressIPv6 } from '../../dns/names.js';
import type { RR } from '../../dns/reply.js';
import { classCode, typeCode } from './rrtypes.js';

export class RRSyntaxError extends Error {}

/** Types this parser builds. */
export const RR_TYPES = ['A', 'AAAA', 'CNAME', 'DNAME', 'HINFO', 'MX', 'NS', 'PTR', 'SOA', 'SRV', 'TXT'] as const;
const SUPPORTED: ReadonlySet<string> = new Set(RR_TYPES);
const CLASS_TEXT: Record<number, string> = { 1: 'IN', 2: 'CS', 3: 'CH', 4: 'HS' };

const DEFAULT_TTL = 3600;

interface Token { text: string; quoted: boolean }

/** Parses one record; throws RRSyntaxError with the reason. */
export function parseRR(text: string): RR {
  const toks = tokenize(text);
  const [owner] = toks;
  if (owner === undefined) throw new RRSyntaxError('empty resource record');
  if (owner.quoted) throw new RRSyntaxError(`bad owner name "${owner.text}"`);
  const name = domainName(owner.text, 'owner name');
  let ttl: number | null = null;
  let cls: number | null = null;
  let i = 1;
  let type: string | undefined;
  for (; i < toks.length && type === undefined; i++) {
    const t = toks[i]?.text;
    if (t === undefined) break; // i < toks.length: cannot happen
    const asTtl: number | null = ttl === null ? parseTtl(t) : null;
    if (asTtl !== null) { ttl = asTtl; continue; }
    const c: number | undefined = cls === null ? classCode(t) : undefined;
    if (c !== undefined && typeCode(t) === undefined) { cls = c; continue; }
    const code = typeCode(t);
    if (code === undefined) {
      if (ttl === null && /^\d/.test(t)) throw new RRSyntaxError(`not a TTL: "${t}"`);
      throw new RRSyntaxError(`unknown RR type or class "${t}"`);
    }
    type = t.toUpperCase();
    if (!SUPPORTED.has(type)) throw new RRSyntaxError(`RR type ${type} is not supported by clusterdns's template plugin (supported: ${RR_TYPES.join(', ')})`);
  }
  if (type === undefined) throw new RRSyntaxError(`no RR type in "${text}"`);
  const clsText = CLASS_TEXT[cls ?? 1];
  if (clsText === undefined) throw new RRSyntaxError(`class ${cls} is not supported in a template RR`);
  const rdata = toks.slice(i);
  const rr = { name, type, class: clsText, ttl: ttl ?? DEFAULT_TTL, data: rdataOf(type, rdata) };
  return rr as RR;
}

function rdataOf(type: string, f: Token[]): unknown {
  const want = (n: number): void => {
    if (f.length < n) throw new RRSyntaxError(`${type}: missing rdata (want ${n} fields, got ${f.length})`);
    const extra = f[n];
    if (extra !== undefined && type !== 'TXT') throw new RRSyntaxError(`${type}: extra text "${extra.text}" after rdata`);
  };
  const t = (k: number): string => {
    const tok = f[k];
    if (tok === undefined) throw new RRSyntaxError(`${type}: missing rdata field ${k + 1}`); // want() ran first
    return tok.text;
  };
  switch (type) {
    case 'A':
      want(1);
      if (!isIPv4(t(0))) throw new RRSyntaxError(`bad A address "${t(0)}"`);
      return t(0);
    case 'AAAA':
      want(1);
      if (!isIPv6(t(0)) || t(0).includes('%')) throw new RRSyntaxError(`bad AAAA address "${t(0)}"`);
      return compressIPv6(t(0));
    case 'CNAME': case 'NS': case 'PTR': case 'DNAME':
      want(1);
      return domainName(t(0), `${type} target`);
    case 'MX':
      want(2);
      return { preference: uint(t(0), 16, 'MX preference'), exchange: domainName(t(1), 'MX exchange') };
    case 'SRV':
      want(4);
      return {
        priority: uint(t(0), 16, 'SRV priority'), weight: uint(t(1), 16, 'SRV weight'),
        port: uint(t(2), 16, 'SRV port'), target: domainName(t(3), 'SRV target'),
      };
    case 'SOA':
      want(7);
      return {
        mname: domainName(t(0), 'SOA mname'), rname: domainName(t(1), 'SOA rname'), serial: uint(t(2), 32, 'SOA serial'),
        refresh: timer(t(3), 'SOA refresh'), retry: timer(t(4), 'SOA retry'), expire: timer(t(5), 'SOA expire'), minimum: timer(t(6), 'SOA minimum'),
      };
    case 'HINFO':
      want(2);
      return { cpu: t(0), os: t(1) };
    case 'TXT':
      if (f.length === 0) throw new RRSyntaxError('TXT: missing rdata');
      return f.map((x) => characterString(x.text));
    default:
      throw new RRSyntaxError(`RR type ${type} is not supported`);
  }
}

/** Splits on blanks; quoted strings are one token; ( ) are ignored; ";" ends the record. */
function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
    if (c === '\n') {
      if (depth === 0 && out.length > 0 && text.slice(i).trim() !== '') throw new RRSyntaxError('more than one record (newline outside parentheses)');
      i++;
      continue;
    }
    if (c === ';') { const nl = text.indexOf('\n', i); i = nl < 0 ? text.length : nl; continue; }
    if (c === '(') { depth++; i++; continue; }
    if (c === ')') {
      if (depth === 0) throw new RRSyntaxError('extra closing parenthesis');
      depth--;
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let s = '';
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && j + 1 < text.length) { s += text.charAt(j) + text.charAt(j + 1); j++; } else s += text.charAt(j);
      }
      if (j >= text.length) throw new RRSyntaxError('unterminated quoted string');
      out.push({ text: s, quoted: true });
      i = j + 1;
      continue;
    }
    let j = i;
    let s = '';
    while (j < text.length && !' \t\r\n;()"'.includes(text.charAt(j))) {
      if (text[j] === '\\' && j + 1 < text.length) { s += text.charAt(j) + text.charAt(j + 1); j += 2; } else { s += text.charAt(j); j++; }
    }
    out.push({ text: s, quoted: false });
    i = j;
  }
  if (depth !== 0) throw new RRSyntaxError('unclosed parenthesis');
  return out;
}

/** A name relative to the root origin: "a.b" and "a.b." are the same; "@" is the root. Returned without the trailing dot. */
function domainName(s: string, what: string): string {
  if (s === '@' || s === '.') return '';
  const n = s.endsWith('.') && !s.endsWith('\\.') ? s.slice(0, -1) : s;
  let octets = 1;
  for (const label of splitLabels(n)) {
    const len = labelLength(label);
    if (len === 0) throw new RRSyntaxError(`bad ${what} "${s}": empty label`);
    if (len > 63) throw new RRSyntaxError(`bad ${what} "${s}": label longer than 63 octets`);
    octets += 1 + len;
  }
  if (octets > 255) throw new RRSyntaxError(`bad ${what} "${s}": longer than 255 octets`);
  return n;
}

function splitLabels(n: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < n.length; i++) {
    const c = n.charAt(i);
    if (c === '\\' && i + 1 < n.length) { cur += c + n.charAt(i + 1); i++; continue; }
    if (c === '.') { out.push(cur); cur = ''; continue; }
    cur += c;
  }
  out.push(cur);
  return out;
}

/** Octets of a label written with \DDD and \X escapes. */
function labelLength(label: string): number {
  let n = 0;
  for (let i = 0; i < label.length; i++) {
    if (label[i] === '\\') i += /^\d{3}$/.test(label.slice(i + 1, i + 4)) ? 3 : 1;
    n += Buffer.byteLength(label[i] ?? '');
  }
  return n;
}

/** A character-string's bytes, with \DDD and \X escapes resolved. */
function characterString(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i);
    if (c === '\\' && i + 1 < s.length) {
      const d = s.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(d) && Number(d) < 256) { bytes.push(Number(d)); i += 3; continue; }
      bytes.push(...Buffer.from(s.charAt(i + 1)));
      i++;
      continue;
    }
    bytes.push(...Buffer.from(c));
  }
  return Buffer.from(bytes);
}

function uint(s: string, bits: 16 | 32, what: string): number {
  const n = /^\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n >= 2 ** bits) throw new RRSyntaxError(`bad ${what} "${s}"`);
  return n;
}

/** A TTL: seconds, or the zone-file duration form 1h30m (s m h d w), below 2^32. */
function parseTtl(s: string): number | null {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n < 2 ** 32 ? n : null;
  }
  if (!/^(\d+[smhdw])+$/i.test(s)) return null;
  const unit: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  // The test above admits only these units; an unknown one would make the total NaN, which is refused below.
  for (const [, count, u] of s.toLowerCase().matchAll(/(\d+)([smhdw])/g)) total += Number(count) * (unit[u ?? ''] ?? NaN);
  return total < 2 ** 32 ? total : null;
}

function timer(s: string, what: string): number {
  const n = parseTtl(s);
  if (n === null) throw new RRSyntaxError(`bad ${what} "${s}"`);
  return n;
}
