import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { QCLASS, RCODE, UDP_EDNS_CAP, UDP_PLAIN_MAX } from '../dns/constants.js';
import { encodeError, encodeReply, encodeReusable, type EncodeLimits } from '../dns/encode.js';
import { isProblem, parseQuery, type ParsedQuery } from '../dns/query.js';
import { relayWire } from '../dns/relay.js';
import { withHeaderEdit } from '../dns/answer-edit.js';
import type { Reply } from '../dns/reply.js';
import { configError } from '../corefile/errors.js';
import { log } from '../log.js';
import type { Block } from './build.js';
import type { ListenAddress, Plugin, Request } from './plugin.js';
import { ZoneTable } from './route.js';
import { TCP_DEFAULTS, TcpConnection, TcpSlots, type TcpLimits } from './tcp-connection.js';

export interface ServerOptions {
  /**
   * Largest UDP answer we send to EDNS clients, and the size our OPT
   * advertises: default 1232 (DNS Flag Day 2020, no IP fragmentation),
   * whatever larger buffer a client announces. Without EDNS: 512.
   */
  maxUdpSize?: number;
  /** TCP timeouts and connection limits (defaults: TCP_DEFAULTS). */
  tcp?: Partial<TcpLimits>;
  /** Defaults for reload(): see ReloadOptions. */
  reload?: ReloadOptions;
}

export interface ReloadOptions {
  /** How long a new configuration may take to become ready (when the running one is). */
  readyTimeoutMs?: number;
  /** How long in-flight queries of the old configuration get before its plugins stop. */
  drainMs?: number;
}

interface Listener {
  address: string;
  port: number;
  zones: ZoneTable;
  label: string;
  udp: dgram.Socket[];
  tcp: net.Server[];
}

type Sendable = Buffer | null;

/**
 * The DNS front: listeners, framing, routing to a block by longest zone,
 * and encoding the block's reply for the client's transport and buffer.
 */
export class DnsServer {
  private listeners: Listener[] = [];
  private inflight = 0;
  private idle: Array<() => void> = [];
  private tcpConnections = new Set<TcpConnection>();
  private closing = false;
  /** Set when shutdown() begins: the `ready` plugin answers 503 from then on. */
  draining = false;
  private reloading = false;
  /** Set once start() has opened every listener (reloads wait for it). */
  started = false;
  /** Plugins that have reported ready once; like CoreDNS's `ready`, they are not asked again. */
  private readonly wasReady = new WeakSet<Plugin>();
  private readonly maxUdp: number;
  private readonly tcpLimits: TcpLimits;
  private readonly reloadDefaults: ReloadOptions;

  constructor(private blocks: Block[], opts: ServerOptions = {}) {
    this.reloadDefaults = opts.reload ?? {};
    this.maxUdp = opts.maxUdpSize ?? UDP_EDNS_CAP;
    this.tcpLimits = { ...TCP_DEFAULTS, ...opts.tcp };
    this.listeners = groupListeners(blocks);
  }

  /** The addresses actually bound (port 0 resolves to the kernel's pick). */
  addresses(): Array<{ address: string; port: number; proto: 'udp' | 'tcp' }> {
    const out: Array<{ address: string; port: number; proto: 'udp' | 'tcp' }> = [];
    for (const l of this.listeners) {
      for (const u of l.udp) { const a = u.address(); out.push({ address: a.address, port: a.port, proto: 'udp' }); }
      for (const t of l.tcp) { const a = t.address() as net.AddressInfo; out.push({ address: a.address, port: a.port, proto: 'tcp' }); }
    }
    return out;
  }

  async start(): Promise<void> {
    for (const b of this.blocks) for (const p of b.plugins) if (p.start) await p.start();
    for (const l of this.listeners) await this.open(l);
    for (const b of this.blocks) {
      for (const p of b.plugins) if (p.afterListen) await p.afterListen(this.addressesOf(b));
    }
    this.started = true;
  }

  /** The sockets a block's queries arrive on. */
  private addressesOf(b: Block): ListenAddress[] {
    const out: ListenAddress[] = [];
    for (const l of this.listeners) {
      if (!l.zones.blocks().includes(b)) continue;
      for (const u of l.udp) { const a = u.address(); out.push({ address: a.address, port: a.port, proto: 'udp' }); }
      for (const t of l.tcp) { const a = t.address() as net.AddressInfo; out.push({ address: a.address, port: a.port, proto: 'tcp' }); }
    }
    return out;
  }

  /** Stop taking queries, let in-flight ones finish (bounded), then stop plugins. */
  async stop(graceMs = 5000): Promise<void> {
    this.closing = true;
    // Take no new queries, but keep the sockets that carry answers in flight
    // open until those are sent (a closed UDP socket cannot send).
    const accepting: Array<Promise<void>> = [];
    for (const l of this.listeners) {
      for (const u of l.udp) u.removeAllListeners('message');
      for (const t of l.tcp) accepting.push(new Promise((r) => t.close(() => r())));
      l.tcp = [];
    }
    for (const c of this.tcpConnections) c.stopReading();
    if (this.inflight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, graceMs);
        this.idle.push(() => { clearTimeout(t); resolve(); });
      });
      // The last answers are sent from promise callbacks queued behind this one.
      await new Promise((r) => setImmediate(r));
    }
    await this.closeListeners();
    for (const c of this.tcpConnections) c.destroy();
    await Promise.all(accepting);
    for (const b of this.blocks) for (const p of b.plugins) if (p.stop) await p.stop();
  }

  /** The blocks now serving (the `ready` and `prometheus` plugins read them). */
  currentBlocks(): readonly Block[] {
    return this.blocks;
  }

  /** Names of the plugins that report readiness and are not ready yet (sorted, unique). */
  notReady(blocks: readonly Block[] = this.blocks): string[] {
    const out = new Set<string>();
    for (const b of blocks) {
      for (const p of b.plugins) {
        if (!p.ready || this.wasReady.has(p)) continue;
        let ok = false;
        try { ok = p.ready(); } catch { ok = false; }
        if (ok) this.wasReady.add(p); else out.add(p.name);
      }
    }
    return [...out].sort();
  }

  /**
   * Graceful process shutdown: readiness fails at once, DNS keeps serving
   * while the plugins' shutdown() hooks run (health's lameduck), then
   * listeners close, in-flight queries finish (bounded) and plugins stop.
   */
  async shutdown(graceMs = 5000): Promise<void> {
    this.draining = true;
    await Promise.all(this.blocks.flatMap((b) => b.plugins).map(async (p) => {
      try { await p.shutdown?.(); } catch (err) { log('error', 'server', 'shutdown hook failed', { plugin: p.name, err }); }
    }));
    await this.stop(graceMs);
  }

  /**
   * Swaps in a new configuration without dropping queries. The new plugins
   * start first (and, when the running configuration is ready, must become
   * ready too, so a reload never flips readiness); listeners on new
   * addresses open; then, in one synchronous step, listeners that stay are
   * re-pointed at the new zone tables and dropped ones close; the old
   * plugins stop once in-flight queries had time to finish. On any failure
   * before the swap the new plugins stop, the old configuration keeps
   * serving, and the error is thrown.
   */
  async reload(blocks: Block[], opts: ReloadOptions = {}): Promise<void> {
    if (this.draining || this.closing) throw new Error('the server is shutting down');
    if (!this.started) throw new Error('the server has not finished starting');
    if (this.reloading) throw new Error('a reload is already running');
    this.reloading = true;
    try {
      await this.swapIn(blocks, { ...this.reloadDefaults, ...opts });
    } finally {
      this.reloading = false;
    }
  }

  private async swapIn(blocks: Block[], opts: ReloadOptions): Promise<void> {
    const next = groupListeners(blocks);
    const key = (l: Listener): string => `${l.address}|${l.port}`;
    const current = new Map(this.listeners.map((l) => [key(l), l]));
    const readyBefore = this.notReady().length === 0;
    const started: Plugin[] = [];
    const opened: Listener[] = [];
    // Old listeners whose port a new one cannot share (a wildcard and a
    // specific address on one port): they close just before the new ones
    // open, so that port is down for that moment.
    const dropped = [...current.values()].filter((c) => !next.some((l) => key(l) === key(c)));
    const yielding = dropped.filter((c) => next.some((l) => !current.has(key(l)) && overlaps(c, l)));
    let yielded = false;
    try {
      for (const b of blocks) {
        for (const p of b.plugins) {
          started.push(p);
          if (p.start) await p.start();
        }
      }
      if (readyBefore) await this.untilReady(blocks, opts.readyTimeoutMs ?? 30_000);
      if (this.closing) throw new Error('the server is shutting down');
      if (yielding.length > 0) {
        log('info', 'server', 'reload moves a port between a wildcard and a specific address: closing the old listener first', {
          closing: yielding.map((l) => `${l.address || '*'}:${l.port}`).join(','),
        });
        yielded = true;
        await closeSockets(yielding);
      }
      for (const l of next) {
        if (current.has(key(l))) continue;
        opened.push(l);
        await this.open(l);
      }
      if (this.closing) throw new Error('the server is shutting down');
    } catch (err) {
      await closeSockets(opened);
      if (yielded) await this.reopen(yielding);
      await stopPlugins(started);
      throw err;
    }

    // The swap: synchronous, so every query sees either the old or the new configuration.
    const old = this.blocks;
    const listeners: Listener[] = [];
    for (const l of next) {
      const cur = current.get(key(l));
      if (cur) {
        cur.zones = l.zones;
        current.delete(key(l));
        listeners.push(cur);
      } else {
        listeners.push(l);
      }
    }
    const removed = [...current.values()];
    // TCP connections still open on a dropped address get REFUSED until they close.
    for (const l of removed) l.zones = new ZoneTable();
    this.listeners = listeners;
    this.blocks = blocks;
    log('info', 'server', 'configuration reloaded', { blocks: blocks.length, listeners: listeners.length, opened: opened.length, closed: removed.length });
    await closeSockets(removed);
    for (const b of blocks) {
      for (const p of b.plugins) {
        if (!p.afterListen) continue;
        try { await p.afterListen(this.addressesOf(b)); } catch (err) { log('error', 'server', 'afterListen failed', { plugin: p.name, err }); }
      }
    }
    await this.drained(opts.drainMs ?? 2000);
    await stopPlugins(old.flatMap((b) => b.plugins));
  }

  /** A failed reload puts back the listeners it closed to make room; what cannot be reopened is logged. */
  private async reopen(listeners: Listener[]): Promise<void> {
    for (const l of listeners) {
      try {
        await this.open(l);
      } catch (err) {
        await closeSockets([l]);
        log('error', 'server', 'cannot reopen a listener after a failed reload', { address: l.address || '*', port: l.port, err });
      }
    }
  }

  private async untilReady(blocks: readonly Block[], timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const waiting = this.notReady(blocks);
      if (waiting.length === 0) return;
      if (Date.now() >= until || this.closing) {
        throw new Error(`the new configuration was not ready within ${timeoutMs / 1000}s (waiting for ${waiting.join(', ')})`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Waits until no asynchronous query is in flight, at most `ms`. */
  private async drained(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (this.inflight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }

  async closeListeners(): Promise<void> {
    const waits: Array<Promise<void>> = [];
    for (const l of this.listeners) {
      for (const u of l.udp) waits.push(new Promise((r) => u.close(() => r())));
      for (const t of l.tcp) waits.push(new Promise((r) => t.close(() => r())));
      l.udp = [];
      l.tcp = [];
    }
    for (const c of this.tcpConnections) c.close();
    await Promise.all(waits);
  }

  /** Answers a name through the server as a client would, for plugins chasing CNAMEs. */
  async resolveInternal(name: string, type: number): Promise<Reply> {
    const lname = name.toLowerCase().replace(/\.$/, '');
    for (const l of this.listeners) {
      const m = l.zones.match(lname);
      if (!m) continue;
      const req: Request = {
        raw: Buffer.alloc(0), id: 0, flags: 0x0100, opcode: 0, name: lname, lname, type, qclass: 1,
        questionEnd: 0, edns: null, proto: 'udp', remoteAddress: '127.0.0.1', remotePort: 0,
        zone: m.zone, server: l.label, start: performance.now(), internal: true,
      };
      return m.block.handler(req);
    }
    return { rcode: RCODE.REFUSED, aa: false, answer: [], authority: [], additional: [] };
  }

  private async open(l: Listener): Promise<void> {
    const wildcard = l.address === '';
    const udpAddrs = wildcard ? ['::'] : [l.address];
    for (const address of udpAddrs) {
      try {
        l.udp.push(await this.openUdp(l, address, l.port));
      } catch (err) {
        if (!wildcard) throw err;
        // No IPv6 on this host: fall back to IPv4 only.
        l.udp.push(await this.openUdp(l, '0.0.0.0', l.port));
      }
    }
    // The UDP socket picked the port when asked for 0: TCP takes the same one.
    const port = l.port === 0 ? l.udp[0]!.address().port : l.port;
    l.port = port;
    const tcpAddr = wildcard ? '::' : l.address;
    try {
      l.tcp.push(await this.openTcp(l, tcpAddr, port));
    } catch (err) {
      if (!wildcard) throw err;
      l.tcp.push(await this.openTcp(l, '0.0.0.0', port));
    }
    l.label = `dns://${l.address.includes(':') ? `[${l.address}]` : l.address}:${port}`;
    log('info', 'server', 'listening', { address: l.address || '*', port, zones: l.zones.blocks().flatMap((b) => b.zones).map((z) => z || '.').join(',') });
  }

  private openUdp(l: Listener, address: string, port: number): Promise<dgram.Socket> {
    const type = address.includes(':') ? 'udp6' : 'udp4';
    const sock = dgram.createSocket({ type, ipv6Only: false, lookup: literalLookup });
    return new Promise((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(port, address, () => {
        sock.off('error', reject);
        sock.on('error', (err) => log('error', 'server', 'udp socket error', { err }));
        sock.on('message', (msg, rinfo) => this.onUdp(l, sock, msg, rinfo));
        resolve(sock);
      });
    });
  }

  private onUdp(l: Listener, sock: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const out = this.handle(l, msg, 'udp', rinfo.address, rinfo.port);
    if (out === null) return;
    if (out instanceof Promise) {
      out.then((b) => { if (b) sock.send(b, rinfo.port, rinfo.address); }, () => undefined);
    } else {
      sock.send(out, rinfo.port, rinfo.address);
    }
  }

  private openTcp(l: Listener, address: string, port: number): Promise<net.Server> {
    // Half-open: a client's FIN ends its queries, not the answers it is owed.
    const srv = net.createServer({ noDelay: true, allowHalfOpen: true });
    // Not srv.maxConnections: that refuses newcomers, while TcpSlots can make room for them.
    const slots = new TcpSlots(this.tcpLimits);
    srv.on('connection', (sock) => this.onTcp(l, slots, sock));
    return new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ port, host: address, ipv6Only: false }, () => {
        srv.off('error', reject);
        srv.on('error', (err) => log('error', 'server', 'tcp listener error', { err }));
        resolve(srv);
      });
    });
  }

  private onTcp(l: Listener, slots: TcpSlots, sock: net.Socket): void {
    const remote = sock.remoteAddress ?? '';
    const rport = sock.remotePort ?? 0;
    if (this.closing) {
      sock.destroy();
      return;
    }
    if (!slots.admit(remote)) {
      log('debug', 'server', 'tcp connection refused: every connection is owed answers', { client: remote, connections: slots.size });
      sock.destroy();
      return;
    }
    const conn = new TcpConnection(sock, remote, (msg) => this.handle(l, msg, 'tcp', remote, rport), this.tcpLimits, (c) => {
      slots.remove(c);
      this.tcpConnections.delete(c);
    });
    slots.add(conn);
    this.tcpConnections.add(conn);
  }

  /**
   * One query in, at most one answer out: synchronous when the chain
   * answers synchronously, so the hot path makes no Promise.
   */
  handle(l: Listener, raw: Buffer, proto: 'udp' | 'tcp', remoteAddress: string, remotePort: number): Sendable | Promise<Sendable> {
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
    const echo = { id: q.id, flags: q.flags, raw, questionEnd: q.questionEnd, lname: q.lname, edns: q.edns };
    // Classes other than IN only where a plugin declares them (CoreDNS refuses them here too).
    const m = q.qclass === QCLASS.IN || l.zones.servesClass(q.qclass) ? l.zones.match(q.lname) : null;
    if (m === null) return this.dropped(l, q, raw, proto, remoteAddress, remotePort, echo, limits);
    const block = m.block;
    limits.recursionAvailable = block.recursive;
    if (proto === 'udp' && limits.maxSize > block.udpSizeLimit) limits.maxSize = block.udpSizeLimit;
    if (q.edns && q.edns.version > 0) return encodeError(echo, RCODE.BADVERS, limits);
    // Fields spelled out (not spread): one object shape for every query keeps this path monomorphic.
    const req: Request = {
      id: q.id, flags: q.flags, opcode: q.opcode, name: q.name, lname: q.lname, type: q.type, qclass: q.qclass,
      questionEnd: q.questionEnd, edns: q.edns, raw, proto, remoteAddress, remotePort, zone: m.zone,
      server: l.label, start: block.observers.length > 0 ? performance.now() : 0, internal: false,
    };
    let result: Reply | Promise<Reply>;
    try {
      result = q.qclass === QCLASS.IN ? block.handler(req) : block.handlerFor(q.qclass)(req);
    } catch (err) {
      result = failure(err);
    }
    if (result instanceof Promise) {
      this.inflight++;
      return result.then(
        (r) => this.finish(block, req, r, echo, limits),
        (err: unknown) => this.finish(block, req, failure(err), echo, limits),
      ).finally(() => {
        if (--this.inflight === 0 && this.closing) for (const f of this.idle.splice(0)) f();
      });
    }
    return this.finish(block, req, result, echo, limits);
  }

  /** REFUSED before any block took the query; counted as CoreDNS counts it (zone "dropped"). */
  private dropped(
    l: Listener, q: ParsedQuery, raw: Buffer, proto: 'udp' | 'tcp', remoteAddress: string, remotePort: number,
    echo: Parameters<typeof encodeReply>[0], limits: EncodeLimits,
  ): Buffer {
    const start = performance.now();
    const out = encodeError(echo, RCODE.REFUSED, limits);
    const obs = l.zones.droppedObservers;
    if (obs.length === 0) return out;
    const req: Request = {
      id: q.id, flags: q.flags, opcode: q.opcode, name: q.name, lname: q.lname, type: q.type, qclass: q.qclass,
      questionEnd: q.questionEnd, edns: q.edns, raw, proto, remoteAddress, remotePort, zone: '',
      server: l.label, start, internal: false,
    };
    const r: Reply = { rcode: RCODE.REFUSED, aa: false, answer: [], authority: [], additional: [], by: 'server' };
    const ms = performance.now() - start;
    for (const o of obs) o.observeDropped!(req, r, out, ms);
    return out;
  }

  private finish(block: Block, req: Request, r: Reply, echo: Parameters<typeof encodeReply>[0], limits: EncodeLimits): Buffer {
    let out: Buffer;
    try {
      out = r.wire ? relayWire(echo, r as Reply & { wire: Buffer }, limits) : r.reusable ? encodeReusable(echo, r, limits) : encodeReply(echo, r, limits);
      if (r.header !== undefined) out = withHeaderEdit(out, r.header);
    } catch (err) {
      r = failure(err);
      out = encodeReply(echo, r, limits);
    }
    const obs = block.observers;
    if (obs.length > 0) {
      const ms = performance.now() - req.start;
      for (let i = 0; i < obs.length; i++) obs[i]!.observe!(req, r, out, ms);
    }
    return out;
  }
}

/** A plugin threw: the client gets SERVFAIL, the `errors` plugin sees the cause. */
function failure(err: unknown): Reply {
  const error = err instanceof Error ? err : new Error(String(err));
  return { rcode: RCODE.SERVFAIL, aa: false, answer: [], authority: [], additional: [], error, by: 'server' };
}

/** Closes the sockets of listeners a reload dropped (or opened before it failed). */
async function closeSockets(listeners: Listener[]): Promise<void> {
  const waits: Array<Promise<void>> = [];
  for (const l of listeners) {
    for (const u of l.udp) waits.push(new Promise((r) => u.close(() => r())));
    // The port stops accepting at once; close()'s callback would also wait for
    // open connections (they end on their idle timeout), so don't.
    for (const t of l.tcp) t.close();
    l.udp = [];
    l.tcp = [];
  }
  await Promise.all(waits);
}

/** Stops plugins one by one; a failing stop() is logged and does not stop the others. */
async function stopPlugins(plugins: Plugin[]): Promise<void> {
  for (const p of plugins) {
    if (!p.stop) continue;
    try { await p.stop(); } catch (err) { log('error', 'server', 'plugin stop failed', { plugin: p.name, err }); }
  }
}

/**
 * Answers go back to the address a query came from, always an IP literal:
 * handing it straight back skips dns.lookup and its nextTick per packet
 * (measured: a third of the send cost under load).
 */
function literalLookup(address: string, _opts: unknown, cb: (err: Error | null, address: string, family: number) => void): void {
  cb(null, address, address.includes(':') ? 6 : 4);
}

const WILDCARDS = new Set(['', '0.0.0.0', '::']);

/** Two listeners that cannot both hold their port: one of them binds every address. */
function overlaps(a: Listener, b: Listener): boolean {
  return a.port === b.port && a.port !== 0 && (WILDCARDS.has(a.address) || WILDCARDS.has(b.address));
}

/** Blocks sharing (address, port) share listeners; each listener routes by zone. */
function groupListeners(blocks: Block[]): Listener[] {
  const byKey = new Map<string, Listener>();
  for (const b of blocks) {
    const addrs = b.bind.length > 0 ? b.bind : [''];
    for (const key of b.keys) {
      for (const address of addrs) {
        const port = key.port ?? 53;
        const k = `${address}|${port}`;
        let l = byKey.get(k);
        if (!l) {
          l = { address, port, zones: new ZoneTable(), label: `dns://:${port}`, udp: [], tcp: [] };
          byKey.set(k, l);
        }
        if (!l.zones.add(key.zone, b) && !l.zones.blocks().includes(b)) {
          throw configError(b, `zone ${key.zone || '.'} is served by two server blocks on port ${port}`);
        }
      }
    }
  }
  return [...byKey.values()];
}
