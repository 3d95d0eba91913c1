// One upstream server: how we talk to it (a fresh UDP socket per query,
// pooled TCP or TLS connections) and what we think of its health.

import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { QTYPE, RCODE } from '../../dns/constants.js';
import { checkUpstreamReply, type CheckedReply } from '../../dns/wire.js';
import { log } from '../../log.js';
import { TcpFramer } from '../../server/tcp.js';
import { newTag } from './hops.js';
import type { ForwardMetrics, UpstreamCounters } from './metrics.js';
import { buildQuery } from '../../dns/build-query.js';
import { checkReply, type Mismatch, questionEnd, randomId, truncated, withId } from './wire.js';

export interface UpstreamAddress {
  host: string;
  port: number;
  /** tls://: DNS over TLS (RFC 7858); every query and health check goes over pooled TLS connections. */
  tls?: boolean;
}

/** How long one upstream keeps quiet about repeated TLS handshake failures after logging one. */
const TLS_LOG_PERIOD_MS = 60_000;

/** Connecting worked but the TLS handshake did not (a certificate that fails verification, a server not speaking TLS). */
export class TlsHandshakeError extends Error {}

/** Settings every upstream of one `forward` line shares. */
export interface TransportOptions {
  /** Idle pooled TCP connections are closed after this long (ms). */
  expireMs: number;
  /** Idle TCP connections kept per upstream (0: no limit of our own, 64 cap). */
  maxIdleConns: number;
  /** Consecutive failures that mark the upstream down; 0 = never down, no health checks. */
  maxFails: number;
  healthCheckMs: number;
  /** Health check query: `<domain> IN NS`, RD unless no_rec. */
  healthCheckDomain: string;
  healthCheckRecursion: boolean;
  /** Time limit of one health check probe (ms). */
  healthCheckTimeoutMs: number;
  /** Health checks use TCP (force_tcp). */
  forceTcp: boolean;
  /** For tls:// upstreams: CA, client certificate and key, servername (SNI and the name checked); {} = system roots, the IP checked. */
  tls?: Pick<tls.ConnectionOptions, 'ca' | 'cert' | 'key' | 'servername'>;
}

/** An exchange under way: its outcome, and a way to abandon it. */
export interface Exchange {
  promise: Promise<Buffer>;
  cancel(): void;
}

/** A query to one upstream under way: its checked reply, and a way to abandon it. */
export interface QueryExchange {
  promise: Promise<CheckedReply>;
  cancel(): void;
}

export class CancelledError extends Error {
  constructor() { super('cancelled'); }
}

/** The upstream answered with bytes that do not decode as a DNS message. */
export class MalformedReplyError extends Error {}

class TimeoutError extends Error {}

/**
 * One exchange's promise, settled exactly once: by the first `finish`, by
 * the timeout, or by cancel. `cleanup` releases the transport (and learns
 * whether it failed) before the promise settles.
 */
function exchangeOnce(
  timeoutMs: number,
  timeoutMessage: string,
  cleanup: (err: Error | null) => void,
  start: (finish: (err: Error | null, m?: Buffer) => void, settled: () => boolean) => void,
): Exchange {
  let cancel: () => void = () => undefined;
  const promise = new Promise<Buffer>((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null, m?: Buffer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      cleanup(err);
      if (err) reject(err); else resolve(m!);
    };
    const timer = setTimeout(() => finish(new TimeoutError(timeoutMessage)), Math.max(1, timeoutMs));
    cancel = () => finish(new CancelledError());
    start(finish, () => done);
  });
  return { promise, cancel: () => cancel() };
}

const MAX_IDLE_CAP = 64;

/** Literal comparison of the reply's source with the upstream, v4-mapped v6 folded. */
function sameHost(a: string, b: string): boolean {
  if (a === b) return true;
  const strip = (s: string) => (s.startsWith('::ffff:') ? s.slice(7) : s).toLowerCase();
  return strip(a) === strip(b);
}

/** A pooled TCP (or TLS) connection: one exchange at a time, replies read through a framer. */
class TcpConn {
  private onMessage: ((m: Buffer) => void) | null = null;
  private onGone: ((err: Error) => void) | null = null;
  closed = false;
  /** Has this connection carried an answered exchange (so a failure may be a stale pooled socket)? */
  reused = false;

  /** TLS: the TCP connection is up; the handshake is not done yet. */
  private handshaking = false;

  constructor(readonly sock: net.Socket, idleMs: number, onClose: (c: TcpConn) => void) {
    if (sock instanceof tls.TLSSocket) {
      sock.once('connect', () => { this.handshaking = true; });
      sock.once('secureConnect', () => { this.handshaking = false; });
    }
    const framer = new TcpFramer((m) => this.onMessage?.(m));
    this.sock.on('data', (chunk) => { if (!framer.push(chunk)) this.sock.destroy(); });
    this.sock.on('error', (err) => this.gone(err));
    this.sock.on('close', () => this.gone(new Error('connection closed by upstream')));
    // No traffic for `expire`: close it (an idle pooled connection, or a stuck one).
    this.sock.setTimeout(idleMs, () => this.sock.destroy());
    this.sock.unref();
    this.onClose = onClose;
  }

  private readonly onClose: (c: TcpConn) => void;

  private gone(cause: Error): void {
    const err = this.handshaking ? new TlsHandshakeError(`TLS handshake failed: ${cause.message}`) : cause;
    this.handshaking = false;
    if (!this.closed) {
      this.closed = true;
      this.onClose(this);
    }
    const g = this.onGone;
    this.onGone = null;
    g?.(err);
  }

  /** Sends one framed message and waits for the reply that passes `accept`. */
  exchange(msg: Buffer, accept: (m: Buffer) => boolean, timeoutMs: number): Exchange {
    const release = (err: Error | null): void => {
      this.onMessage = null;
      this.onGone = null;
      // The stream may still carry our answer later: never reuse it.
      if (err) this.sock.destroy();
    };
    return exchangeOnce(timeoutMs, `no TCP answer within ${Math.round(timeoutMs)}ms`, release, (finish) => {
      if (this.closed) { finish(new Error('connection closed by upstream')); return; }
      this.onMessage = (m) => { if (accept(m)) finish(null, m); };
      this.onGone = (err) => finish(err);
      const len = Buffer.allocUnsafe(2);
      len.writeUInt16BE(msg.length, 0);
      this.sock.cork();
      this.sock.write(len);
      this.sock.write(msg);
      this.sock.uncork();
    });
  }
}

/**
 * One upstream. Counts consecutive failures; at `maxFails` it is down and
 * a health check (`. IN NS`) runs every `healthCheckMs` until it answers.
 */
export class Upstream {
  /** Consecutive failures (queries without a reply, failed health checks). */
  fails = 0;
  readonly to: string;
  /** This upstream's hop in the loop marker (hops.ts): seeing it on a query means the query came back. */
  readonly tag: Buffer = newTag();
  private readonly family: 'udp4' | 'udp6';
  private readonly counters: UpstreamCounters;
  private idle: TcpConn[] = [];
  private checking = false;
  private hcTimer: NodeJS.Timeout | null = null;
  private hcCancel: (() => void) | null = null;
  private stopped = false;
  /** The last TLS session, to resume on the next connection (a cheaper handshake). */
  private tlsSession: Buffer | undefined;
  private tlsLoggedAt = -Infinity;
  private tlsQuiet = 0;

  constructor(readonly addr: UpstreamAddress, private readonly opts: TransportOptions, private readonly metrics: ForwardMetrics) {
    this.to = addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
    this.family = net.isIPv6(addr.host) ? 'udp6' : 'udp4';
    this.counters = metrics.upstream(this.to);
  }

  get down(): boolean {
    return this.opts.maxFails > 0 && this.fails >= this.opts.maxFails;
  }

  /** An answer came back: healthy again. */
  success(): void {
    this.fails = 0;
  }

  /** An attempt got no reply: count it, and make sure a health check is running. */
  failure(): void {
    this.counters.failures++;
    if (this.opts.maxFails === 0) return;
    this.fails++;
    this.startHealthCheck();
  }

  /**
   * Sends `query` (any ID; each exchange gets a fresh random one) and resolves
   * with the upstream's reply, checked end to end and without its OPT
   * (checkUpstreamReply); a reply that does not decode rejects with a
   * MalformedReplyError. `proto` 'udp' falls back to TCP when the reply is
   * truncated. With `plain` (the client's own bytes when `query` is them
   * with our loop marker added), a FORMERR or NOTIMP answer is asked again
   * with `plain`: an upstream that cannot take the marker (or EDNS at all)
   * answers as it did before markers. Counts each attempt and reply.
   */
  query(query: Buffer, qend: number, asked: 'udp' | 'tcp', timeoutMs: number, plain: Buffer | null = null): QueryExchange {
    const proto = this.addr.tls === true ? 'tcp' : asked;
    const deadline = performance.now() + timeoutMs;
    const question = query.subarray(12, qend);
    let current: Exchange | null = null;
    let cancelled = false;
    const once = async (msg: Buffer): Promise<CheckedReply> => {
      this.counters.requests++;
      const started = performance.now();
      let reply: Buffer;
      if (proto === 'udp') {
        current = this.udp(msg, question, deadline - performance.now());
        reply = await current.promise;
        if (truncated(reply) && !cancelled) {
          current = this.tcp(msg, question, deadline - performance.now());
          reply = await current.promise;
        }
      } else {
        current = this.tcp(msg, question, deadline - performance.now());
        reply = await current.promise;
      }
      const checked = checkUpstreamReply(reply);
      if (typeof checked === 'string') {
        this.counters.malformed++;
        throw new MalformedReplyError(`malformed reply from ${this.to}: ${checked}`);
      }
      this.metrics.response(this.to, checked.rcode, (performance.now() - started) / 1000);
      return checked;
    };
    const run = async (): Promise<CheckedReply> => {
      const first = await once(query);
      if (plain === null || cancelled || (first.rcode !== RCODE.FORMERR && first.rcode !== RCODE.NOTIMP)) return first;
      return once(plain);
    };
    const promise = run();
    return {
      promise,
      cancel: () => {
        cancelled = true;
        (current as Exchange | null)?.cancel();
      },
    };
  }

  private drop(why: Mismatch): void {
    this.metrics.dropped[why]++;
  }

  /**
   * UDP: a fresh socket per exchange, so the source port is picked anew by
   * the kernel (randomised) for every query. The socket is connected, so
   * the kernel only delivers datagrams from the upstream's address and port
   * and reports ICMP "port unreachable" as an error at once.
   */
  udp(query: Buffer, question: Buffer, timeoutMs: number): Exchange {
    const id = randomId();
    const msg = withId(query, id);
    const { host, port } = this.addr;
    const sock = dgram.createSocket(this.family);
    const close = (): void => { try { sock.close(); } catch { /* already closed */ } };
    return exchangeOnce(timeoutMs, `no UDP answer within ${Math.round(timeoutMs)}ms`, close, (finish, settled) => {
      sock.on('error', (err) => finish(err));
      sock.on('message', (m, rinfo) => {
        if (rinfo.port !== port || !sameHost(rinfo.address, host)) { this.drop('source'); return; }
        const bad = checkReply(m, id, question);
        if (bad) { this.drop(bad); return; }
        finish(null, m);
      });
      sock.connect(port, host, (err?: Error) => {
        if (settled()) return;
        if (err) { finish(err); return; }
        sock.send(msg, (e) => { if (e) finish(e); });
      });
    });
  }

  /** TCP over a pooled connection; a stale pooled connection is retried once on a new one. */
  tcp(query: Buffer, question: Buffer, timeoutMs: number): Exchange {
    const deadline = performance.now() + timeoutMs;
    let current: Exchange | null = null;
    let cancelled = false;
    const attempt = async (): Promise<Buffer> => {
      for (let tries = 0; ; tries++) {
        const conn = this.takeConn();
        const id = randomId();
        const accept = (m: Buffer): boolean => {
          const bad = checkReply(m, id, question);
          if (bad) this.drop(bad);
          return bad === null;
        };
        const left = deadline - performance.now();
        if (left <= 0) throw new TimeoutError('no time left for TCP');
        current = conn.exchange(withId(query, id), accept, left);
        try {
          const reply = await current.promise;
          conn.reused = true;
          this.release(conn);
          return reply;
        } catch (err) {
          if (err instanceof TlsHandshakeError) this.tlsFailed(err);
          const stale = conn.reused && !(err instanceof TimeoutError) && !(err instanceof CancelledError);
          if (!stale || tries > 0 || cancelled) throw err;
        }
      }
    };
    return { promise: attempt(), cancel: () => { cancelled = true; (current as Exchange | null)?.cancel(); } };
  }

  private takeConn(): TcpConn {
    while (this.idle.length > 0) {
      const c = this.idle.pop()!;
      if (!c.closed) {
        this.counters.connCacheHits++;
        return c;
      }
    }
    this.counters.connCacheMisses++;
    return new TcpConn(this.dial(), this.opts.expireMs, (c) => {
      const i = this.idle.indexOf(c);
      if (i >= 0) this.idle.splice(i, 1);
    });
  }

  private dial(): net.Socket {
    const { host, port } = this.addr;
    if (this.addr.tls !== true) return net.connect({ host, port, noDelay: true });
    // servername unset: no SNI, and Node checks the certificate against the IP (as Go's tls.Dial does).
    const sock = tls.connect({ host, port, ...this.opts.tls, ...(this.tlsSession ? { session: this.tlsSession } : {}) });
    sock.setNoDelay(true);
    sock.on('session', (s: Buffer) => { this.tlsSession = s; });
    return sock;
  }

  /** A TLS handshake failed: one log line per period per upstream, with how many were not logged. */
  private tlsFailed(err: TlsHandshakeError): void {
    const now = performance.now();
    if (now - this.tlsLoggedAt < TLS_LOG_PERIOD_MS) { this.tlsQuiet++; return; }
    log('warn', 'forward', 'TLS handshake with upstream failed', { to: this.to, err: err.message, repeated: this.tlsQuiet });
    this.tlsLoggedAt = now;
    this.tlsQuiet = 0;
  }

  private release(c: TcpConn): void {
    const cap = this.opts.maxIdleConns > 0 ? Math.min(this.opts.maxIdleConns, MAX_IDLE_CAP) : MAX_IDLE_CAP;
    if (this.stopped || c.closed || this.idle.length >= cap) {
      c.sock.destroy();
      return;
    }
    this.idle.push(c);
  }

  /** Health checking runs while the upstream has failures, every healthCheckMs, until an answer. */
  private startHealthCheck(): void {
    if (this.checking || this.stopped) return;
    this.checking = true;
    this.hcTimer = setTimeout(() => this.healthCheck(), 0);
    this.hcTimer.unref();
  }

  private healthCheck(): void {
    this.hcTimer = null;
    if (this.stopped) { this.checking = false; return; }
    const q = buildQuery(this.opts.healthCheckDomain, QTYPE.NS, 1, { rd: this.opts.healthCheckRecursion });
    const qend = questionEnd(q);
    const question = q.subarray(12, qend);
    // The health check takes the queries' transport: TLS for tls:// (as CoreDNS).
    const ex = this.opts.forceTcp || this.addr.tls === true ? this.tcp(q, question, this.opts.healthCheckTimeoutMs) : this.udp(q, question, this.opts.healthCheckTimeoutMs);
    this.hcCancel = ex.cancel;
    ex.promise.then(
      () => {
        // Any reply (even REFUSED or SERVFAIL) means the upstream is there.
        if (this.down) log('info', 'forward', 'upstream is healthy again', { to: this.to });
        this.fails = 0;
        this.checking = false;
        this.hcCancel = null;
      },
      (err: unknown) => {
        this.hcCancel = null;
        if (this.stopped || err instanceof CancelledError) { this.checking = false; return; }
        this.counters.healthcheckFailures++;
        const wasDown = this.down;
        this.fails++;
        if (!wasDown && this.down) log('warn', 'forward', 'upstream marked down', { to: this.to, err: (err as Error).message });
        this.hcTimer = setTimeout(() => this.healthCheck(), this.opts.healthCheckMs);
        this.hcTimer.unref();
      },
    );
  }

  stop(): void {
    this.stopped = true;
    if (this.hcTimer) clearTimeout(this.hcTimer);
    this.hcTimer = null;
    this.hcCancel?.();
    this.checking = false;
    for (const c of this.idle) c.sock.destroy();
    this.idle = [];
  }
}
