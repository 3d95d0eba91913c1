// A small, configurable DNS server for tests: the "upstream" that forward
// talks to, or any other server a test needs. It listens on 127.0.0.1 only
// (UDP, and TCP unless told not to), logs every query it gets, and answers
// as the options say. Options can be changed while it runs (`set`), so a
// test can make an upstream go silent and come back.

import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket, type Packet } from 'dns-packet';

export interface UpstreamQuery {
  /** Question name as sent (case preserved), no trailing dot. */
  name: string;
  type: string;
  qclass: string;
  id: number;
  proto: 'udp' | 'tcp';
  /** RD flag of the query. */
  rd: boolean;
  /** UDP size of the query's OPT record, or null without EDNS. */
  ednsSize: number | null;
  raw: Buffer;
  /** Source port the query came from. */
  port: number;
  at: number;
}

/** What to answer: sections in dns-packet's shape. */
export interface AnswerSpec {
  /** Rcode name ('NXDOMAIN') or number. Default NOERROR. */
  rcode?: string | number;
  aa?: boolean;
  ra?: boolean;
  answers?: Answer[];
  authorities?: Answer[];
  additionals?: Answer[];
}

export interface UpstreamOptions {
  /**
   * Builds the answer. Return an AnswerSpec, raw bytes (sent as they are),
   * or null to stay silent for this query. Default: A/AAAA/TXT records for
   * the asked name (A 192.0.2.53, TTL 60), NS for the root, NODATA else.
   */
  answer?: (q: UpstreamQuery) => AnswerSpec | Buffer | null;
  /** Drop every query (UDP and TCP): a dead upstream that does not even refuse. */
  silent?: boolean;
  /** Answer UDP queries with TC set and no records (TCP gets the full answer). */
  truncateUdp?: boolean;
  /** Listen on TCP too (default true). */
  tcp?: boolean;
  /** Delay every answer by this many ms. */
  delayMs?: number;
  /**
   * Extra UDP messages sent from the same socket before the real answer
   * (spoofing attempts: wrong ID, wrong name...). Built from the query.
   */
  spoof?: (q: UpstreamQuery) => Buffer[];
  /** Like spoof, but sent from another socket (a wrong source port). */
  spoofFromOtherPort?: (q: UpstreamQuery) => Buffer[];
  /** Listen on this port (default: a free one the kernel picks). */
  port?: number;
  /**
   * The OPT record answers carry when the query had one: `false` for a
   * server that does not speak EDNS (it ignores the query's OPT and answers
   * without one); otherwise what to put in it (default: size 1232, no options).
   */
  edns?: false | EdnsReply;
}

/** The upstream's own OPT record: a size, flags and options meant for us only. */
export interface EdnsReply {
  udpPayloadSize?: number;
  /** OPT flags (0x8000 DO). */
  flags?: number;
  /** Extended rcode (upper 8 bits), put in the OPT's TTL field. */
  extendedRcode?: number;
  options?: Array<{ code: number; data: Buffer }>;
}

export interface Upstream {
  readonly port: number;
  readonly address: string;
  /** "127.0.0.1:PORT", the form a Corefile takes. */
  readonly hostPort: string;
  /** Every query received, oldest first. */
  readonly queries: UpstreamQuery[];
  /** Queries received, optionally only those for a name (case-insensitive) and/or type. */
  count(name?: string, type?: string): number;
  /** Change options while running. */
  set(opts: Partial<UpstreamOptions>): void;
  stop(): Promise<void>;
}

const RCODES: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };

/** The default answer: something plausible for every type the tests ask. */
export function defaultAnswer(q: UpstreamQuery): AnswerSpec {
  const name = q.name;
  switch (q.type) {
    case 'A': return { answers: [{ name, type: 'A', ttl: 60, data: '192.0.2.53' }] };
    case 'AAAA': return { answers: [{ name, type: 'AAAA', ttl: 60, data: '2001:db8::53' }] };
    case 'TXT': return { answers: [{ name, type: 'TXT', ttl: 60, data: ['upstream'] }] };
    case 'NS': return { answers: [{ name: name || '.', type: 'NS', ttl: 60, data: 'ns.example.' }] };
    default: return {};
  }
}

/** Encodes a reply to `q` from a spec: same ID, question as asked, OPT echoed if the query had one. */
export function encodeAnswer(q: UpstreamQuery, spec: AnswerSpec, extra: { tc?: boolean; id?: number; edns?: false | EdnsReply } = {}): Buffer {
  const rcode = typeof spec.rcode === 'number' ? spec.rcode : RCODES[spec.rcode ?? 'NOERROR'] ?? 0;
  let flags = 0x8000 | (q.rd ? 0x0100 : 0) | (rcode & 0xf);
  if (spec.aa) flags |= 0x0400;
  if (spec.ra !== false) flags |= 0x0080;
  if (extra.tc) flags |= 0x0200;
  const additionals = [...(spec.additionals ?? [])];
  const e = extra.edns ?? {};
  if (q.ednsSize !== null && e !== false) {
    additionals.push({
      type: 'OPT', name: '.', udpPayloadSize: e.udpPayloadSize ?? 1232, extendedRcode: e.extendedRcode ?? 0,
      flags: e.flags ?? 0, options: e.options ?? [],
    } as never);
  }
  const p: Packet = {
    type: 'response',
    id: extra.id ?? q.id,
    flags,
    questions: [{ name: q.name, type: q.type as 'A', class: q.qclass as 'IN' }],
    answers: extra.tc ? [] : spec.answers ?? [],
    authorities: extra.tc ? [] : spec.authorities ?? [],
    additionals: extra.tc ? additionals.filter((a) => a.type === 'OPT') : additionals,
  };
  return dnsPacket.encode(p);
}

function describe(raw: Buffer, proto: 'udp' | 'tcp', port: number): UpstreamQuery | null {
  let p: DecodedPacket;
  try { p = dnsPacket.decode(raw); } catch { return null; }
  const question = p.questions?.[0];
  if (!question || p.type !== 'query') return null;
  const opt = (p.additionals ?? []).find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  return {
    name: question.name === '.' ? '' : question.name,
    type: question.type,
    qclass: question.class ?? 'IN',
    id: p.id ?? 0,
    proto,
    rd: ((p.flags ?? 0) & 0x0100) !== 0,
    ednsSize: opt ? opt.udpPayloadSize ?? 512 : null,
    raw: Buffer.from(raw),
    port,
    at: Date.now(),
  };
}

/** Starts a test DNS server on 127.0.0.1 (a kernel-chosen port, UDP and TCP). */
export async function startUpstream(initial: UpstreamOptions = {}): Promise<Upstream> {
  const opts: UpstreamOptions = { tcp: true, ...initial };
  const queries: UpstreamQuery[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    if (ms <= 0) { fn(); return; }
    const t = setTimeout(() => { timers.delete(t); fn(); }, ms);
    timers.add(t);
  };

  const build = (q: UpstreamQuery, forUdp: boolean): Buffer | null => {
    const a = (opts.answer ?? defaultAnswer)(q);
    if (a === null) return null;
    if (Buffer.isBuffer(a)) return a;
    return encodeAnswer(q, a, { tc: forUdp && opts.truncateUdp === true, edns: opts.edns });
  };

  const bindUdp = async (port = 0): Promise<dgram.Socket> => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => { s.once('error', reject); s.bind(port, '127.0.0.1', () => resolve()); });
    s.on('error', () => undefined);
    return s;
  };
  const other = await bindUdp();
  let udp = await bindUdp(opts.port ?? 0);
  let tcp: net.Server | null = null;
  // TCP takes the UDP socket's port; if that port is taken for TCP, try another.
  for (let attempt = 0; opts.tcp !== false; attempt++) {
    const srv = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      srv.once('error', () => resolve(false));
      srv.listen(udp.address().port, '127.0.0.1', () => resolve(true));
    });
    if (ok) { tcp = srv; break; }
    if (attempt > 20 || opts.port) throw new Error('startUpstream: no port free for both UDP and TCP');
    await new Promise<void>((r) => udp.close(() => r()));
    udp = await bindUdp();
  }
  const port = udp.address().port;

  udp.on('message', (msg, rinfo) => {
    const q = describe(msg, 'udp', rinfo.port);
    if (!q) return;
    queries.push(q);
    if (opts.silent) return;
    const send = (b: Buffer, sock = udp): void => { sock.send(b, rinfo.port, rinfo.address, () => undefined); };
    for (const b of opts.spoofFromOtherPort?.(q) ?? []) send(b, other);
    for (const b of opts.spoof?.(q) ?? []) send(b);
    const out = build(q, true);
    if (out) later(opts.delayMs ?? 0, () => send(out));
  });

  const sockets = new Set<net.Socket>();
  tcp?.on('connection', (sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const q = describe(msg, 'tcp', sock.remotePort ?? 0);
        if (!q) continue;
        queries.push(q);
        if (opts.silent) continue;
        const out = build(q, false);
        if (!out) continue;
        later(opts.delayMs ?? 0, () => {
          if (!sock.writable) return;
          const l = Buffer.alloc(2);
          l.writeUInt16BE(out.length);
          sock.write(Buffer.concat([l, out]));
        });
      }
    });
  });

  return {
    port,
    address: '127.0.0.1',
    hostPort: `127.0.0.1:${port}`,
    queries,
    count(name?: string, type?: string): number {
      const n = name?.toLowerCase().replace(/\.$/, '');
      return queries.filter((q) => (n === undefined || q.name.toLowerCase() === n) && (type === undefined || q.type === type)).length;
    },
    set(o: Partial<UpstreamOptions>): void { Object.assign(opts, o); },
    async stop(): Promise<void> {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((r) => udp.close(() => r())),
        new Promise<void>((r) => other.close(() => r())),
        tcp ? new Promise<void>((r) => tcp!.close(() => r())) : Promise.resolve(),
      ]);
    },
  };
}
