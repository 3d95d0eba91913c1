import { performance } from 'node:perf_hooks';
import { RCODE, UDP_EDNS_CAP } from '../dns/constants.js';
import { buildQuery } from '../dns/build-query.js';
import { isProblem, parseQuery } from '../dns/query.js';
import { carriesMessage, failure, type AnswerReply } from '../dns/reply.js';
import { log } from '../log.js';
import type { Block } from './build.js';
import { boundAddresses, closeSockets, groupListeners, openListener, type Listener, type ListenerHooks, type Sendable } from './listeners.js';
import type { ListenAddress, Plugin, Request } from './plugin.js';
import { QueryPath } from './query-path.js';
import { prepareAndSwap, stopPlugins, type ReloadOptions } from './reload.js';
import { TCP_DEFAULTS, type TcpConnection, type TcpLimits } from './tcp-connection.js';

export type { ReloadOptions } from './reload.js';

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

/** How inject() presents a query: the transport, the client, and which listener it arrived on. */
export interface InjectOptions {
  /** Default 'udp' (the client's buffer size then limits the answer). */
  proto?: 'udp' | 'tcp';
  remoteAddress?: string;
  remotePort?: number;
  /** Default 127.0.0.1. */
  localAddress?: string;
  /** The bound port of the listener to use (see addresses()); default: the first listener. */
  port?: number;
}

/** UDP size we advertise on queries the server makes itself (no client OPT to copy). */
const INTERNAL_EDNS_SIZE = 1232;

/**
 * The DNS server's lifecycle: listeners open and close, configurations
 * swap on reload, shutdown drains. Queries go through QueryPath.
 */
export class DnsServer {
  private listeners: Listener[] = [];
  private readonly tcpConnections = new Set<TcpConnection>();
  private closing = false;
  /** Set when shutdown() begins: the `ready` plugin answers 503 from then on. */
  draining = false;
  private reloading = false;
  /** Set once start() has opened every listener (reloads wait for it). */
  started = false;
  /** Plugins that have reported ready once; like CoreDNS's `ready`, they are not asked again. */
  private readonly wasReady = new WeakSet<Plugin>();
  private readonly reloadDefaults: ReloadOptions;
  private readonly queries: QueryPath;
  private readonly hooks: ListenerHooks;

  constructor(private blocks: Block[], opts: ServerOptions = {}) {
    this.reloadDefaults = opts.reload ?? {};
    this.queries = new QueryPath(opts.maxUdpSize ?? UDP_EDNS_CAP);
    const tcpLimits = { ...TCP_DEFAULTS, ...opts.tcp };
    const queries = this.queries;
    this.hooks = {
      handle: (l, raw, proto, address, port, local) => queries.handle(l, raw, proto, address, port, local),
      tcpLimits,
      tcpConnections: this.tcpConnections,
      closing: () => this.closing,
    };
    this.listeners = groupListeners(blocks);
  }

  /** The addresses actually bound (port 0 resolves to the kernel's pick). */
  addresses(): ListenAddress[] {
    return this.listeners.flatMap(boundAddresses);
  }

  /**
   * Answers `raw` as if it had arrived on a listener (default: the first;
   * `opts.port` picks one by bound port), without sockets: the bytes a
   * client would get (several messages for a zone transfer over TCP), null
   * when the query is dropped. Synchronous when the
   * chain is, like the socket path (the in-process entry for tests and
   * bench/hotpath.ts).
   */
  inject(raw: Buffer, opts?: InjectOptions): Sendable | Promise<Sendable> {
    const port = opts?.port;
    const l = port === undefined ? this.listeners[0] : this.listeners.find((x) => x.port === port);
    if (l === undefined) throw new Error(port === undefined ? 'the server has no listener' : `no listener on port ${port}`);
    return this.queries.handle(l, raw, opts?.proto ?? 'udp', opts?.remoteAddress ?? '127.0.0.1', opts?.remotePort ?? 0, opts?.localAddress ?? '127.0.0.1');
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
    return this.listeners.filter((l) => l.zones.blocks().includes(b)).flatMap(boundAddresses);
  }

  private open(l: Listener): Promise<void> {
    return openListener(l, this.hooks);
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
    await this.queries.settle(graceMs);
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
   * Swaps in a new configuration without dropping queries (see
   * prepareAndSwap); the old plugins stop once in-flight queries had time
   * to finish. On failure the old configuration keeps serving and the
   * error is thrown.
   */
  async reload(blocks: Block[], opts: ReloadOptions = {}): Promise<void> {
    if (this.draining || this.closing) throw new Error('the server is shutting down');
    if (!this.started) throw new Error('the server has not finished starting');
    if (this.reloading) throw new Error('a reload is already running');
    this.reloading = true;
    try {
      const o = { ...this.reloadDefaults, ...opts };
      const host = {
        listeners: this.listeners,
        open: (l: Listener) => this.open(l),
        notReady: (bs?: readonly Block[]) => this.notReady(bs),
        closing: () => this.closing,
      };
      const { listeners, opened, removed } = await prepareAndSwap(host, blocks, o);
      const old = this.blocks;
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
      await this.drained(o.drainMs ?? 2000);
      await stopPlugins(old.flatMap((b) => b.plugins));
    } finally {
      this.reloading = false;
    }
  }

  /** Waits until no asynchronous query is in flight, at most `ms`. */
  private async drained(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (this.queries.pending > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
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

  /**
   * Answers a name through the server as a client would, for plugins
   * chasing CNAMEs: a real query (RD, our EDNS size) run through the chain
   * of the block serving the name, marked internal (no metrics, no log).
   */
  async resolveInternal(name: string, type: number, from?: Request): Promise<AnswerReply> {
    const raw = buildQuery(name.toLowerCase(), type, 1, { ednsSize: INTERNAL_EDNS_SIZE });
    const q = parseQuery(raw);
    if (isProblem(q)) return failure(RCODE.SERVFAIL, 'server', new Error(`cannot build a query for ${name}: ${q.reason}`));
    for (const l of this.listeners) {
      const m = l.zones.match(q.lname);
      if (!m) continue;
      const req: Request = {
        ...q, raw, proto: from?.proto ?? 'udp', remoteAddress: from?.remoteAddress ?? '127.0.0.1', remotePort: from?.remotePort ?? 0,
        localAddress: from?.localAddress ?? '127.0.0.1',
        zone: m.zone, server: l.label, start: performance.now(), internal: true,
      };
      const r = await m.block.handler(req);
      // A plugin that chose silence (acl drop) leaves the asking plugin nothing to use.
      return carriesMessage(r) ? r : failure(RCODE.SERVFAIL, r.by, new Error(`${name}: no single answer (${r.kind})`));
    }
    return failure(RCODE.REFUSED, 'server');
  }
}
