import { classifyWire } from '../../dns/classify.js';
import { className, FLAG, rcodeName, typeName } from '../../dns/constants.js';
import { fqdn } from '../../dns/names.js';
import type { Reply } from '../../dns/reply.js';
import type { Request } from '../../server/plugin.js';

/** CoreDNS's Common Log Format. */
export const COMMON_FORMAT = '{remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}" {rcode} {>rflags} {rsize} {duration}';
/** Common plus the query opcode. */
export const COMBINED_FORMAT = `${COMMON_FORMAT} "{>opcode}"`;

/** What a field is computed from: the query, the answer's bytes, the duration. */
type Field = (req: Request, reply: Reply, wire: Buffer, ms: number) => string;

const EMPTY = '-';

/** The bytes of an answer that was sent: a dropped query has none, and CoreDNS prints "-" for its rcode and flags. */
const sent = (wire: Buffer): boolean => wire.length >= 12;

/** Go's strconv 'f' with the shortest digits: "0.000131s", never an exponent. */
function seconds(ms: number): string {
  const s = (Math.round(ms * 1e6) / 1e9).toFixed(9);
  let end = s.length;
  while (s.charCodeAt(end - 1) === 48) end--; // trailing zeros
  if (s.charCodeAt(end - 1) === 46) end--; // and a bare point
  return `${s.slice(0, end)}s`;
}

/** IPv4 clients of a dual-stack socket arrive as ::ffff:a.b.c.d; CoreDNS (Go) prints them as IPv4. IPv6 goes in brackets. */
export function rfc3986(addr: string): string {
  const a = addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
  return a.includes(':') ? `[${a}]` : a;
}

const FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [FLAG.QR, 'qr'], [FLAG.AA, 'aa'], [FLAG.TC, 'tc'], [FLAG.RD, 'rd'], [FLAG.RA, 'ra'], [0x0040, 'z'], [FLAG.AD, 'ad'], [FLAG.CD, 'cd'],
];

function rflags(wire: Buffer): string {
  if (!sent(wire)) return EMPTY;
  const f = wire.readUInt16BE(2);
  let out = '';
  for (let i = 0; i < FLAG_NAMES.length; i++) {
    const e = FLAG_NAMES[i];
    if (e !== undefined && (f & e[0]) !== 0) out = out === '' ? e[1] : `${out},${e[1]}`;
  }
  return out;
}

function rcode(reply: Reply, wire: Buffer): string {
  if (!sent(wire)) return EMPTY;
  const low = (wire[3] ?? 0) & 0xf;
  // The header holds the low 4 bits; the reply knows an extended rcode (BADVERS).
  return rcodeName(reply.rcode > 0xf && (reply.rcode & 0xf) === low ? reply.rcode : low);
}

/** CoreDNS's response.Typify names, from the answer's header. */
function responseType(wire: Buffer): string {
  if (!sent(wire)) return 'OTHERERROR';
  const rc = (wire[3] ?? 0) & 0xf;
  if (rc === 3) return 'NXDOMAIN';
  if (rc === 2) return 'SERVFAIL';
  if (rc !== 0) return 'OTHERERROR';
  return wire.readUInt16BE(6) > 0 ? 'NOERROR' : 'NODATA';
}

const FIELDS: Record<string, Field> = {
  '{type}': (req) => typeName(req.type),
  '{name}': (req) => fqdn(req.name),
  '{class}': (req) => className(req.qclass),
  '{proto}': (req) => req.proto,
  '{size}': (req) => String(req.raw.length),
  '{remote}': (req) => rfc3986(req.remoteAddress),
  '{port}': (req) => String(req.remotePort),
  '{local}': (req) => rfc3986(req.localAddress),
  '{>id}': (req) => String(req.id),
  '{>opcode}': (req) => String(req.opcode),
  '{>do}': (req) => String(req.edns !== null && req.edns.do),
  // As CoreDNS's request.Size(): TCP is 64K, UDP the advertised size but at least 512.
  '{>bufsize}': (req) => String(req.proto === 'tcp' ? 65535 : Math.max(req.edns?.udpSize ?? 0, 512)),
  '{rcode}': (_req, reply, wire) => rcode(reply, wire),
  '{rsize}': (_req, _reply, wire) => String(wire.length),
  '{duration}': (_req, _reply, _wire, ms) => seconds(ms),
  '{>rflags}': (_req, _reply, wire) => rflags(wire),
};

/** The metadata the log plugin itself provides (CoreDNS: log/class, log/type); any other label is "-" (we have no metadata plugin). */
const METADATA: Record<string, Field> = {
  'log/class': (_req, _reply, wire) => (sent(wire) ? classifyWire(wire) : 'error'),
  'log/type': (_req, _reply, wire) => responseType(wire),
};

/** A compiled format: literal text and fields in order. Fields only run when the format names them. */
export type Format = ReadonlyArray<string | Field>;

/** `{common}` and `{combined}` expand first, as CoreDNS does with a plain string replace. */
export function expandShortcuts(s: string): string {
  return s.replaceAll('{common}', COMMON_FORMAT).replaceAll('{combined}', COMBINED_FORMAT);
}

/**
 * CoreDNS's parse: find each "}", back up to the nearest "{"; a known
 * label becomes a field, "{/x}" metadata, anything else stays literally
 * (with the text before it), so "{foo}" prints as "{foo}".
 */
export function compileFormat(format: string): Format {
  const out: Array<string | Field> = [];
  let lit = '';
  let s = expandShortcuts(format);
  for (;;) {
    const j = s.indexOf('}');
    if (j < 0) break;
    const i = s.lastIndexOf('{', j);
    if (i < 0) { lit += s.slice(0, j + 1); s = s.slice(j + 1); continue; }
    const label = s.slice(i, j + 1);
    const field = FIELDS[label] ?? (label.startsWith('{/') ? METADATA[label.slice(2, -1)] ?? (() => EMPTY) : undefined);
    if (field === undefined) {
      lit += s.slice(0, j + 1);
    } else {
      lit += s.slice(0, i);
      if (lit !== '') out.push(lit);
      lit = '';
      out.push(field);
    }
    s = s.slice(j + 1);
  }
  lit += s;
  if (lit !== '') out.push(lit);
  return out;
}

export function render(f: Format, req: Request, reply: Reply, wire: Buffer, ms: number): string {
  let line = '';
  for (let i = 0; i < f.length; i++) {
    const part = f[i];
    line += typeof part === 'string' ? part : part === undefined ? '' : part(req, reply, wire, ms);
  }
  return line;
}
