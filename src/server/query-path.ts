import { performance } from 'node:perf_hooks';
import { QCLASS, RCODE, UDP_PLAIN_MAX } from '../dns/constants.js';
import { encodeError, encodeReply, encodeReusable, type EncodeLimits, type KeptEncodings, type QueryEcho } from '../dns/encode.js';
import { isProblem, parseQuery, type ParsedQuery } from '../dns/query.js';
import { relayWire } from '../dns/relay.js';
import { withHeaderEdit } from '../dns/answer-edit.js';
import { failure, records, type RecordsReply, type Reply, type TransferReply } from '../dns/reply.js';
import type { Block } from './build.js';
import type { Listener, Sendable } from './listeners.js';
import type { Request } from './plugin.js';

/**
 * One query in, at most one answer out: parse, route to a block by zone,
 * run its chain, encode the reply for the client's transport and buffer,
 * tell the observers. Counts the queries still waiting on a plugin.
 */
export class QueryPath {
  private inflight = 0;
  private idle: Array<() => void> = [];
  /** Encodings of reusable replies (RecordsReply.reusable), per reply object: the server's memo, not the plugin's. */
  private readonly encodings: KeptEncodings = new WeakMap();

  constructor(private readonly maxUdp: number) {}

  /** Queries waiting on an asynchronous plugin. */
  get pending(): number {
    return this.inflight;
  }

  /** Resolves when no query is pending, or after `ms`. */
  async settle(ms: number): Promise<void> {
    if (this.inflight === 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.idle.push(() => { clearTimeout(t); resolve(); });
    });
    // The last answers are sent from promise callbacks queued behind this one.
    await new Promise((r) => setImmediate(r));
  }

  /** Synchronous when the chain answers synchronously, so the hot path makes no Promise. */
  handle(l: Listener, raw: Buffer, proto: 'udp' | 'tcp', remoteAddress: string, remotePort: number, localAddress: string): Sendable | Promise<Sendable> {
    const q = parseQuery(raw);
    const maxUdp = this.maxUdp;
    if (isProblem(q)) {
      if (q.drop) return null;
      const echo = { id: q.id, flags: q.flags, raw, questionEnd: q.questionEnd, lname: '', edns: null };
      return encodeError(echo, q.rcode, { maxSize: UDP_PLAIN_MAX, recursionAvailable: false, ednsSize: maxUdp });
    }
    const limits: EncodeLimits = {
      maxSize: proto === 'tcp' ? 65535 : q.edns ? Math.min(Math.max(q.edns.udpSize, UDP_PLAIN_MAX), maxUdp) : UDP_PLAIN_MAX,
      recursionAvailable: false,
      ednsSize: maxUdp,
    };
    const echo: QueryEcho = { id: q.id, flags: q.flags, raw, questionEnd: q.questionEnd, lname: q.lname, edns: q.edns };
    // Classes other than IN only where a plugin declares them (CoreDNS refuses them here too).
    const m = q.qclass === QCLASS.IN || l.zones.servesClass(q.qclass) ? l.zones.match(q.lname) : null;
    if (m === null) return dropped(l, q, raw, proto, remoteAddress, remotePort, localAddress, echo, limits);
    const block = m.block;
    limits.recursionAvailable = block.recursive;
    if (proto === 'udp' && limits.maxSize > block.udpSizeLimit) limits.maxSize = block.udpSizeLimit;
    if (q.edns && q.edns.version > 0) return encodeError(echo, RCODE.BADVERS, limits);
    // Fields spelled out (not spread): one object shape for every query keeps this path monomorphic.
    const req: Request = {
      id: q.id, flags: q.flags, opcode: q.opcode, name: q.name, lname: q.lname, type: q.type, qclass: q.qclass,
      questionEnd: q.questionEnd, edns: q.edns, raw, proto, remoteAddress, remotePort, localAddress, zone: m.zone,
      server: l.label, start: block.observers.length > 0 ? performance.now() : 0, internal: false,
    };
    let result: Reply | Promise<Reply>;
    try {
      result = q.qclass === QCLASS.IN ? block.handler(req) : block.handlerFor(q.qclass)(req);
    } catch (err) {
      result = thrown(err);
    }
    if (result instanceof Promise) {
      this.inflight++;
      return result.then(
        (r) => this.finish(block, req, r, echo, limits),
        (err: unknown) => this.finish(block, req, thrown(err), echo, limits),
      ).finally(() => {
        if (--this.inflight === 0) for (const f of this.idle.splice(0)) f();
      });
    }
    return this.finish(block, req, result, echo, limits);
  }

  private finish(block: Block, req: Request, r: Reply, echo: QueryEcho, limits: EncodeLimits): Sendable {
    let out: Buffer;
    let stream: Buffer[] | null = null;
    // A transfer is several messages on one TCP connection; over UDP there is no way to send it.
    if (r.kind === 'transfer' && req.proto !== 'tcp') r = failure(RCODE.REFUSED, r.by);
    try {
      if (r.kind === 'transfer') {
        stream = encodeTransfer(echo, r, limits);
        out = stream[0] ?? encodeReply(echo, thrown(new Error('a zone transfer with no message')), limits);
      } else {
        out = r.kind === 'drop' ? NOTHING : r.kind === 'relay' ? relayWire(echo, r, limits) : r.reusable ? encodeReusable(echo, r, limits, this.encodings) : encodeReply(echo, r, limits);
        if (r.header !== undefined && r.kind !== 'drop') out = withHeaderEdit(out, r.header);
      }
    } catch (err) {
      const f = thrown(err);
      out = encodeReply(echo, f, limits);
      stream = null;
      r = f;
    }
    const obs = block.observers;
    if (obs.length > 0) {
      const ms = performance.now() - req.start;
      // Indexed: this runs per query, and for-of would make an iterator.
      for (let i = 0; i < obs.length; i++) obs[i]?.observe?.(req, r, out, ms);
    }
    return out === NOTHING ? null : stream ?? out;
  }
}

/** What observers see of a dropped query's answer: no bytes. */
const NOTHING = Buffer.alloc(0);

/** REFUSED before any block took the query; counted as CoreDNS counts it (zone "dropped"). */
function dropped(
  l: Listener, q: ParsedQuery, raw: Buffer, proto: 'udp' | 'tcp', remoteAddress: string, remotePort: number, localAddress: string,
  echo: QueryEcho, limits: EncodeLimits,
): Buffer {
  const start = performance.now();
  const out = encodeError(echo, RCODE.REFUSED, limits);
  const obs = l.zones.droppedObservers;
  if (obs.length === 0) return out;
  const req: Request = {
    id: q.id, flags: q.flags, opcode: q.opcode, name: q.name, lname: q.lname, type: q.type, qclass: q.qclass,
    questionEnd: q.questionEnd, edns: q.edns, raw, proto, remoteAddress, remotePort, localAddress, zone: '',
    server: l.label, start, internal: false,
  };
  const r = failure(RCODE.REFUSED, 'server');
  const ms = performance.now() - start;
  for (const o of obs) o.observeDropped?.(req, r, out, ms);
  return out;
}

/** Each message of a transfer, with the query's ID and question (observers see the first). */
function encodeTransfer(echo: QueryEcho, r: TransferReply, limits: EncodeLimits): Buffer[] {
  return r.messages.map((answer) => encodeReply(echo, records(r.rcode, r.by, r.aa, [...answer]), limits));
}

/** A plugin threw: the client gets SERVFAIL, the `errors` plugin sees the cause. */
function thrown(err: unknown): RecordsReply {
  return failure(RCODE.SERVFAIL, 'server', err instanceof Error ? err : new Error(String(err)));
}
