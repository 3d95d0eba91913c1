import type net from 'node:net';
import { log } from '../log.js';
import { FrameQueue, frameAll } from './tcp.js';

/** The limits that keep one TCP client from holding what others need (README: "TCP limits"). */
export interface TcpLimits {
  /** Close a connection that sent nothing and is owed nothing for this long (CoreDNS: idle 10 s). */
  idleTimeoutMs: number;
  /** Time a client has to deliver a whole message, from its first byte or from connecting (CoreDNS: read 3 s). */
  readTimeoutMs: number;
  /** Time a client not reading its answers gets to make room before the connection closes (CoreDNS: write 5 s). */
  writeTimeoutMs: number;
  /** Connections per listener; when full, a waiting connection makes room for the newcomer. */
  maxConnections: number;
  /** Connections per client address and listener; a client over it loses its own longest-waiting one. */
  maxConnectionsPerClient: number;
  /** Answer bytes queued for a client that is not reading before the server stops reading its queries. */
  maxUnsentBytes: number;
  /** Asynchronous answers in flight per connection before the server stops reading its queries. */
  maxPendingQueries: number;
}

export const TCP_DEFAULTS: Readonly<TcpLimits> = {
  idleTimeoutMs: 10_000,
  readTimeoutMs: 3_000,
  writeTimeoutMs: 5_000,
  maxConnections: 1_000,
  maxConnectionsPerClient: 250,
  maxUnsentBytes: 64 * 1024,
  maxPendingQueries: 64,
};

/** Bytes to send, several messages to send in order (a zone transfer), or null: no answer. */
type Answer = Buffer | Buffer[] | null;
/** One query in, its answer out (null: no answer), synchronously when it can. */
export type Answerer = (msg: Buffer) => Answer | Promise<Answer>;

// What the connection's one timer waits for.
/** A whole message (from the first byte of it, or from connecting). */
const WAIT_READ = 0;
/** The next query (nothing buffered); answers may still be owed. */
const WAIT_IDLE = 1;
/** The client to read the answers queued for it. */
const WAIT_WRITE = 2;

/**
 * One client TCP connection: reads pipelined queries, answers them in
 * completion order (RFC 7766 6.2.1.1), and stops reading while the client
 * is not reading its answers or too many are in flight, so what a client
 * can make the server hold stays small. A FIN from the client ends reading
 * only: queries read before it are answered, then the server closes.
 */
export class TcpConnection {
  private readonly frames = new FrameQueue();
  private readonly batch: Buffer[] = [];
  /** Asynchronous answers not written yet. */
  private pending = 0;
  private paused = false;
  /** The server is stopping: never read again. */
  private stopped = false;
  /** The client sent FIN. */
  private ended = false;
  private finished = false;
  private closed = false;
  private wait = WAIT_READ;
  private deadline = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  /** Since when the server has been waiting on the client with nothing of its own to do (eviction order). */
  waitingSince: number;

  constructor(
    readonly sock: net.Socket,
    readonly client: string,
    private readonly answer: Answerer,
    private readonly limits: TcpLimits,
    onClose: (c: TcpConnection) => void,
  ) {
    const now = Date.now();
    this.waitingSince = now;
    this.arm(WAIT_READ, now + limits.readTimeoutMs);
    sock.on('data', (chunk: Buffer) => {
      this.frames.push(chunk);
      this.pump();
    });
    sock.on('drain', () => this.maybeResume());
    sock.on('end', () => {
      this.ended = true;
      this.pump();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.closed = true;
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      onClose(this);
    });
  }

  /**
   * Whether closing this connection loses nothing the server owes: 0 when
   * idle between queries, 1 when waiting for the rest of a message, -1 when
   * answers are in flight or queued.
   */
  evictable(): number {
    if (this.pending > 0 || this.paused || this.ended || this.sock.writableLength > 0) return -1;
    return this.frames.buffered > 0 ? 1 : 0;
  }

  /** Closed to make room for another connection. */
  evict(reason: string): void {
    log('debug', 'server', 'tcp connection closed to make room', { client: this.client, reason });
    this.sock.destroy();
  }

  /** The server is stopping: take no more queries (answers in flight still go out). */
  stopReading(): void {
    this.stopped = true;
    this.sock.pause();
  }

  /** Sends FIN after what is queued. */
  close(): void {
    if (!this.sock.pending) this.sock.end();
  }

  destroy(): void {
    this.sock.destroy();
  }

  private pump(): void {
    const sock = this.sock;
    const limit = this.limits.maxUnsentBytes;
    const batch = this.batch;
    let bytes = 0;
    let took = false;
    while (!this.paused && !this.stopped) {
      const msg = this.frames.next();
      if (msg === null) break;
      took = true;
      const out = this.answer(msg);
      if (out === null) continue;
      if (out instanceof Promise) {
        this.pending++;
        out.then(this.onAnswer, this.onFailure);
        if (this.pending >= this.limits.maxPendingQueries) this.pause();
        continue;
      }
      if (Array.isArray(out)) {
        for (const b of out) { batch.push(b); bytes += 2 + b.length; }
      } else {
        batch.push(out);
        bytes += 2 + out.length;
      }
      // Answers ready at once go out in one write, but never more than the client can be made to hold.
      if (bytes + sock.writableLength > limit) {
        this.write(batch, bytes);
        bytes = 0;
        if (sock.writableLength > limit) this.pause();
      }
    }
    if (bytes > 0) this.write(batch, bytes);
    this.settle(took);
  }

  private write(batch: Buffer[], bytes: number): void {
    if (this.sock.writable) this.sock.write(frameAll(batch, bytes));
    batch.length = 0;
  }

  private readonly onAnswer = (b: Answer): void => {
    this.pending--;
    if (b !== null && this.sock.writable) {
      // The batch is empty outside pump(), and pump() never waits for a promise.
      let bytes = 0;
      for (const m of Array.isArray(b) ? b : [b]) { this.batch.push(m); bytes += 2 + m.length; }
      this.write(this.batch, bytes);
    }
    if (this.paused) this.maybeResume();
    else this.settle(false);
  };

  private readonly onFailure = (): void => this.onAnswer(null);

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.sock.pause();
  }

  /** Reads again once the client has read enough and few enough answers are in flight. */
  private maybeResume(): void {
    if (!this.paused || this.stopped) {
      this.settle(false);
      return;
    }
    if (this.pending >= this.limits.maxPendingQueries || this.sock.writableLength > this.limits.maxUnsentBytes) {
      this.settle(false);
      return;
    }
    this.paused = false;
    // Messages already read come first; reading resumes only if they leave room.
    this.pump();
    if (!this.paused && !this.ended) this.sock.resume();
  }

  /** Picks what the timer waits for now; after FIN, closes once every answer is out. */
  private settle(took: boolean): void {
    const now = Date.now();
    if (this.ended && !this.paused) {
      this.frames.clear();
      if (this.pending === 0 && !this.finished) {
        this.finished = true;
        this.sock.end();
      }
    }
    if (this.sock.writableLength > this.limits.maxUnsentBytes) {
      if (this.wait !== WAIT_WRITE) this.arm(WAIT_WRITE, now + this.limits.writeTimeoutMs);
      return;
    }
    if (!this.paused && this.frames.buffered > 0) {
      // A new incomplete message starts its own deadline; more bytes of the same one do not extend it.
      if (took || this.wait !== WAIT_READ) {
        this.waitingSince = now;
        this.arm(WAIT_READ, now + this.limits.readTimeoutMs);
      }
      return;
    }
    if (this.wait !== WAIT_IDLE || took) this.waitingSince = now;
    this.arm(WAIT_IDLE, now + this.limits.idleTimeoutMs);
  }

  /** One timer per connection, moved only forward cheaply: it re-arms itself when it fires early. */
  private arm(wait: number, at: number): void {
    // Answers still completing after the close must not start a timer nobody clears.
    if (this.closed) return;
    this.wait = wait;
    this.deadline = at;
    if (this.timer !== null && this.timerAt <= at) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.onTimer, Math.max(0, at - Date.now()));
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    const now = Date.now();
    if (now < this.deadline) {
      this.timerAt = this.deadline;
      this.timer = setTimeout(this.onTimer, this.deadline - now);
      return;
    }
    if (this.wait === WAIT_IDLE) {
      if (this.pending > 0) { this.arm(WAIT_IDLE, now + this.limits.idleTimeoutMs); return; }
      if (this.sock.writableLength > 0) { this.arm(WAIT_WRITE, now + this.limits.writeTimeoutMs); return; }
      this.sock.destroy();
      return;
    }
    log('debug', 'server', this.wait === WAIT_READ ? 'tcp client too slow to send a query' : 'tcp client not reading its answers', { client: this.client });
    this.sock.destroy();
  };
}

/**
 * Who may hold a listener's connections. A newcomer over a limit takes the
 * place of a connection the server is only waiting on (idle ones first,
 * the longest-waiting first); only when every connection is owed answers
 * is the newcomer refused.
 */
export class TcpSlots {
  private readonly all = new Set<TcpConnection>();
  private readonly byClient = new Map<string, Set<TcpConnection>>();

  constructor(private readonly limits: TcpLimits) {}

  get size(): number {
    return this.all.size;
  }

  /** Makes room for one more connection from `client`; false when there is none to make. */
  admit(client: string): boolean {
    const mine = this.byClient.get(client);
    if (mine !== undefined && mine.size >= this.limits.maxConnectionsPerClient && !this.evictOne(mine, 'per-client limit')) return false;
    if (this.all.size >= this.limits.maxConnections && !this.evictOne(this.all, 'connection limit')) return false;
    return true;
  }

  add(c: TcpConnection): void {
    this.all.add(c);
    let mine = this.byClient.get(c.client);
    if (mine === undefined) this.byClient.set(c.client, mine = new Set());
    mine.add(c);
  }

  remove(c: TcpConnection): void {
    if (!this.all.delete(c)) return;
    const mine = this.byClient.get(c.client);
    mine?.delete(c);
    if (mine?.size === 0) this.byClient.delete(c.client);
  }

  private evictOne(among: Set<TcpConnection>, reason: string): boolean {
    let best: TcpConnection | null = null;
    let bestRank = 2;
    for (const c of among) {
      const rank = c.evictable();
      if (rank < 0) continue;
      if (rank < bestRank || (rank === bestRank && c.waitingSince < best!.waitingSince)) {
        best = c;
        bestRank = rank;
      }
    }
    if (best === null) return false;
    // Out of the count now: its 'close' comes later.
    this.remove(best);
    best.evict(reason);
    return true;
  }
}
