// Where rewrite meets the server's types: the rewritten Request the next
// plugins see (raw bytes rebuilt to match), and the reply put back the way
// the client asked before it leaves. Everything that knows the shape of
// Request and Reply is in this file.

import dnsPacket, { type Packet } from 'dns-packet';
import { RCODE } from '../../dns/constants.js';
import { isProblem, parseQuery } from '../../dns/query.js';
import { carriesMessage, failure, records, relay, type AnswerReply, type RelayReply, type Reply, type RR } from '../../dns/reply.js';
import type { Request } from '../../server/plugin.js';
import { optBytes, readOpt } from './edns.js';
import { matchForm } from './match.js';
import { QueryState, type ResponseRule } from './rules.js';
import { lookupKey, rewriteRecords, retargetCname } from './records.js';

/** The rules' view of a request. */
export function queryState(req: Request): QueryState {
  return new QueryState(
    matchForm(req.name),
    matchForm(req.lname),
    req.type,
    req.qclass,
    () => (req.raw.length > 12 ? readOpt(req.raw, req.questionEnd) : null),
    { remoteAddress: req.remoteAddress, remotePort: req.remotePort, proto: req.proto, server: req.server },
  );
}

/** Did the rules change what is asked (not only the EDNS0 options)? */
export function questionChanged(req: Request, q: QueryState): boolean {
  return q.newName !== null || q.type !== req.type || q.qclass !== req.qclass;
}

/**
 * Name text (absolute or not, \DDD and \X escapes) as wire labels; null
 * when it is not a domain name (an empty label, a label over 63 octets, or
 * more than 255 octets in all).
 */
export function wireName(name: string): Buffer | null {
  const n = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  if (!n.includes('\\')) return plainWireName(n);
  const out: number[] = [];
  if (n !== '') {
    let label: number[] = [];
    const flush = (): boolean => {
      if (label.length === 0 || label.length > 63) return false;
      out.push(label.length, ...label);
      label = [];
      return true;
    };
    for (let i = 0; i < n.length; i++) {
      const c = n.charCodeAt(i);
      if (c === 0x5c) {
        const d = n.slice(i + 1, i + 4);
        if (/^\d{3}$/.test(d) && Number(d) <= 255) { label.push(Number(d)); i += 3; } else if (i + 1 < n.length) { label.push(n.charCodeAt(i + 1) & 0xff); i += 1; } else return null;
      } else if (c === 0x2e) {
        if (!flush()) return null;
      } else {
        if (c > 0xff) return null;
        label.push(c);
      }
    }
    if (!flush()) return null;
  }
  out.push(0);
  return out.length > 255 ? null : Buffer.from(out);
}

/** wireName for the usual name without escapes: labels written straight into one buffer. */
function plainWireName(n: string): Buffer | null {
  if (n === '') return Buffer.from([0]);
  if (n.length + 2 > 255) return null;
  // Byte i + 1 of the output is character i of the name; each dot becomes the next label's length.
  const out = Buffer.allocUnsafe(n.length + 2);
  let lenAt = 0;
  for (let i = 0; i <= n.length; i++) {
    const c = i < n.length ? n.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      const len = i - lenAt;
      if (len === 0 || len > 63) return null;
      out[lenAt] = len;
      lenAt = i + 1;
    } else if (c > 0xff) {
      return null;
    } else {
      out[i + 1] = c;
    }
  }
  out[n.length + 1] = 0;
  return out;
}

/**
 * The request as the rules left it: a new question (the client's own
 * spelling where the name was not rewritten) and OPT record, in bytes the
 * next plugins (forward relays them) and in fields that agree with them.
 * Other additional records (a TSIG no longer valid for a changed message)
 * are left out. Null when the rewritten name is not a valid name.
 */
export function rewrittenRequest(req: Request, q: QueryState): Request | null {
  const hasRaw = req.raw.length > 12 && req.questionEnd > 12;
  let qname: Buffer | null;
  if (q.newName !== null) qname = wireName(q.newName);
  else qname = hasRaw ? req.raw.subarray(12, req.questionEnd - 4) : wireName(req.name);
  if (qname === null) return null;
  const opt = q.currentOpt();
  const optRaw = opt === null ? null : optBytes(opt);
  const raw = Buffer.alloc(12 + qname.length + 4 + (optRaw?.length ?? 0));
  raw.writeUInt16BE(req.id, 0);
  raw.writeUInt16BE(req.flags, 2);
  raw.writeUInt16BE(1, 4);
  raw.writeUInt16BE(optRaw === null ? 0 : 1, 10);
  qname.copy(raw, 12);
  let off = 12 + qname.length;
  raw.writeUInt16BE(q.type, off);
  raw.writeUInt16BE(q.qclass, off + 2);
  off += 4;
  optRaw?.copy(raw, off);
  const p = parseQuery(raw);
  if (isProblem(p)) return null;
  return {
    id: p.id, flags: p.flags, opcode: p.opcode, name: p.name, lname: p.lname, type: p.type, qclass: p.qclass,
    questionEnd: p.questionEnd, edns: p.edns, raw, proto: req.proto, remoteAddress: req.remoteAddress,
    remotePort: req.remotePort, localAddress: req.localAddress, zone: req.zone, server: req.server, start: req.start,
    internal: req.internal, trace: req.trace,
  };
}

/** SERVFAIL for a query the rules made unanswerable; the `errors` plugin logs why. */
export function failed(error: Error): Reply {
  return failure(RCODE.SERVFAIL, 'rewrite', error);
}

/** What putting a reply back needs. */
export interface Restore {
  /** The request as the client sent it. */
  original: Request;
  /** Response rules in the order the rules gave them (applied last first). */
  rules: ResponseRule[];
  /** Resolves a name through the server (the cname rule's lookups). */
  resolve(name: string, type: number): Promise<AnswerReply>;
  /** Lookups the cname rule has in flight, by lookupKey(), with how many. */
  inflight: Map<string, number>;
}

/**
 * Is this the cname rule's own lookup? Its answer is taken as it is (no
 * cname rule again), so a target whose answer leads back to a rewritten
 * CNAME cannot send lookups round forever. Client queries are never taken
 * for one, however many are in flight for the same name.
 */
export function isOwnLookup(req: Request, inflight: ReadonlyMap<string, number>): boolean {
  return req.internal && inflight.size > 0 && inflight.has(lookupKey(matchForm(req.lname), req.type));
}

function rcodeAfter(rcode: number, rules: readonly ResponseRule[]): number {
  let out = rcode;
  for (let i = rules.length - 1; i >= 0; i--) {
    const r = rules[i];
    if (r?.kind === 'rcode' && r.from === out) out = r.to;
  }
  return out;
}

/**
 * The reply as the client must see it: the question the client asked (the
 * server echoes it for section replies; a relayed upstream message gets it
 * written in) and the response rules applied to every record and the rcode.
 */
export function restoreReply(r: Reply, plan: Restore): Reply | Promise<Reply> {
  const cname = plan.rules.some((x) => x.kind === 'cname');
  if (r.kind === 'relay') {
    let p: Packet;
    try {
      p = dnsPacket.decode(r.wire);
    } catch (err) {
      return failed(new Error(`rewrite: cannot read the reply to put it back: ${(err as Error).message}`, { cause: err }));
    }
    const wire = r.wire;
    const finish = (answers: RR[], tc: boolean): Reply => restoredWire(r, wire, p, answers, tc, plan);
    if (!cname) return finish((p.answers ?? []) as RR[], false);
    return retargetCname((p.answers ?? []) as RR[], plan).then((x) => finish(x.answer, x.tc));
  }
  if (!carriesMessage(r)) return r;
  const finish = (answer: RR[]): Reply => records(
    rcodeAfter(r.rcode, plan.rules), r.by, r.aa,
    rewriteRecords(answer, plan.rules), rewriteRecords(r.authority, plan.rules), rewriteRecords(r.additional, plan.rules),
    r.error,
  );
  if (!cname) return finish(r.answer);
  return retargetCname(r.answer, plan).then((x) => finish(x.answer));
}

const TC = 0x0200;

/** A relayed message re-encoded with the client's question, its records rewritten. */
function restoredWire(r: RelayReply, wire: Buffer, p: Packet, answers: RR[], tc: boolean, plan: Restore): Reply {
  const rcode = rcodeAfter(r.rcode, plan.rules);
  const flags = ((p.flags ?? 0) & ~0xf & 0x7fff) | (rcode & 0xf) | (tc ? TC : 0);
  const additionals = ((p.additionals ?? []) as RR[]).filter((x) => x.type !== 'OPT');
  const sections = {
    answer: rewriteRecords(answers, plan.rules),
    authority: rewriteRecords((p.authorities ?? []) as RR[], plan.rules),
    additional: rewriteRecords(additionals, plan.rules),
  };
  const o = plan.original;
  if (o.raw.length <= 12 || o.questionEnd <= 12) {
    // A query the server made itself has no bytes to echo: hand back sections.
    return records(rcode, r.by, (wire.readUInt16BE(2) & 0x0400) !== 0, sections.answer, sections.authority, sections.additional, r.error);
  }
  const body = dnsPacket.encode({
    type: 'response', id: wire.readUInt16BE(0), flags, questions: [],
    answers: sections.answer, authorities: sections.authority, additionals: sections.additional,
  });
  const question = o.raw.subarray(12, o.questionEnd);
  const out = Buffer.concat([body.subarray(0, 12), question, body.subarray(12)]);
  out.writeUInt16BE(1, 4);
  const restored = relay(rcode, r.by, (flags & 0x0400) !== 0, out);
  return r.error === undefined ? restored : { ...restored, error: r.error };
}
