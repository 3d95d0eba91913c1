// RFC 1035 master file -> the records of one zone, in file order. Every
// problem is a ZoneError naming FILE:LINE; nothing is guessed.

import { isSubdomain } from '../../dns/names.js';
import type { RR } from '../../dns/reply.js';
import { absoluteName, parseRdata, parseTTL, typeProblem } from './rdata.js';
import { type Entry, tokenize, ZoneError } from './zone-lexer.js';

export { ZoneError } from './zone-lexer.js';

/** A record and the line it starts on. */
export interface ZoneRecord {
  rr: RR;
  line: number;
}

export interface ParsedZone {
  /** Lower-case, no trailing dot, root "". */
  origin: string;
  /** Records at or below the origin, in file order. */
  records: ZoneRecord[];
  /** Records above or beside the origin, ignored (as BIND does, which warns too). */
  outOfZone: number;
}

/** Used when neither the record, a $TTL nor an earlier record gives a TTL (as miekg/dns, CoreDNS's parser). */
const DEFAULT_TTL = 3600;
const OTHER_CLASSES = /^(CH|CHAOS|HS|CS|NONE|ANY|CLASS\d+)$/;

/**
 * Parses `text` as the zone `origin` (lower-case, no trailing dot, root "").
 * Relative names are taken from $ORIGIN, initially the zone's origin.
 */
export function parseZone(text: string, origin: string, file: string): ParsedZone {
  let cur = origin;
  let dollarTTL: number | null = null;
  let lastTTL: number | null = null;
  let lastOwner: string | null = null;
  const records: ZoneRecord[] = [];
  let outOfZone = 0;
  for (const e of tokenize(text, file)) {
    const t0 = e.tokens[0];
    if (t0 === undefined) continue;
    if (!e.blankOwner && !t0.quoted && t0.text.startsWith('$')) {
      const v = directive(e, cur, file);
      if (v.origin !== undefined) cur = v.origin;
      if (v.ttl !== undefined) dollarTTL = v.ttl;
      continue;
    }
    let i = 0;
    let owner: string;
    if (e.blankOwner) {
      if (lastOwner === null) throw new ZoneError(file, e.line, 'the line starts with a blank, but no record before it names an owner');
      owner = lastOwner;
    } else {
      owner = absoluteName(t0, { origin: cur, file });
      i = 1;
    }
    let ttl: number | null = null;
    let sawClass = false;
    for (let k = 0; k < 2; k++) {
      const tok = e.tokens[i];
      if (tok === undefined) break;
      if (ttl === null && !tok.quoted && /^\d/.test(tok.text)) {
        ttl = parseTTL(tok.text);
        if (ttl === null) throw new ZoneError(file, tok.line, `bad TTL "${tok.text}": expected seconds from 0 to 2147483647 (or 1h30m)`);
        i++;
        continue;
      }
      const up = tok.text.toUpperCase();
      if (!sawClass && up === 'IN') { sawClass = true; i++; continue; }
      if (!sawClass && OTHER_CLASSES.test(up)) throw new ZoneError(file, tok.line, `class ${tok.text} is not supported: the file plugin serves class IN`);
      break;
    }
    const typeTok = e.tokens[i];
    if (typeTok === undefined) throw new ZoneError(file, e.line, 'missing record type');
    const type = typeTok.text.toUpperCase();
    const problem = typeProblem(type);
    if (problem !== null) throw new ZoneError(file, typeTok.line, problem);
    const data = parseRdata(type, e.tokens.slice(i + 1), { origin: cur, file }, e.line);
    if (ttl !== null) lastTTL = ttl;
    lastOwner = owner;
    if (!isSubdomain(owner, origin)) { outOfZone++; continue; }
    const rr = { name: owner, type, class: 'IN', ttl: ttl ?? dollarTTL ?? lastTTL ?? DEFAULT_TTL, data } as RR;
    records.push({ rr, line: e.line });
  }
  return { origin, records, outOfZone };
}

function directive(e: Entry, cur: string, file: string): { origin?: string; ttl?: number } {
  const [d, arg, ...rest] = e.tokens;
  const name = (d?.text ?? '').toUpperCase();
  if (name === '$INCLUDE') throw new ZoneError(file, e.line, '$INCLUDE is not supported: put the included records in this file');
  if (name === '$GENERATE') throw new ZoneError(file, e.line, '$GENERATE is not supported: write the records out');
  if (name !== '$ORIGIN' && name !== '$TTL') throw new ZoneError(file, e.line, `unknown directive "${d?.text ?? ''}"; accepted: $ORIGIN, $TTL`);
  if (arg === undefined || rest.length > 0) throw new ZoneError(file, e.line, `${name} takes one argument`);
  // A relative $ORIGIN is appended to the current one (RFC 1035 5.1).
  if (name === '$ORIGIN') return { origin: absoluteName(arg, { origin: cur, file }) };
  const ttl = parseTTL(arg.text);
  if (ttl === null) throw new ZoneError(file, arg.line, `bad $TTL "${arg.text}": expected seconds from 0 to 2147483647 (or 1h30m)`);
  return { ttl };
}
