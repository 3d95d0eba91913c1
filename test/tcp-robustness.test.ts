import net from 'node:net';
import { expect } from 'chai';
import dnsPacket from 'dns-packet';
import { RCODE } from '../src/dns/constants.js';
import { records, reusable, type Reply, type RR } from '../src/dns/reply.js';
import { PLUGINS } from '../src/plugins/index.js';
import { setLogSink } from '../src/log.js';
import type { PluginDefinition } from '../src/server/plugin.js';
import { FrameQueue } from '../src/server/tcp.js';
import { queryBytes } from './support/dns.js';
import { startCorefile, type Running } from './support/server.js';
import { startUpstream, type Upstream } from './support/upstream.js';

// Attacks on the TCP listener, replayed small: every limit is set low
// through the server's options so each test runs in about a second.

/** Replies the server produced (observers see every encoded answer). */
let produced = 0;

/**
 * `bulk N`: `kept.<zone>` answers N A records from a reply kept and reused
 * (the kept-encoding path), `later.<zone>` the same after a macrotask (the
 * asynchronous path), anything else one A record.
 */
const bulkPlugin: PluginDefinition = {
  name: 'bulk',
  setup(d) {
    const n = Number(d.args[0] ?? '1');
    const aRecords = (name: string, count: number): RR[] =>
      Array.from({ length: count }, (_, i) => ({ name, type: 'A', ttl: 60, data: `192.0.2.${(i % 250) + 1}` }));
    const kept = new Map<string, Reply>();
    return {
      name: 'bulk',
      serve(req) {
        const first = req.lname.split('.')[0];
        if (first !== 'kept' && first !== 'later') {
          return records(RCODE.NOERROR, 'bulk', true, aRecords(req.lname, 1));
        }
        let r = kept.get(req.lname);
        if (!r) {
          r = reusable(RCODE.NOERROR, 'bulk', true, aRecords(req.lname, n));
          kept.set(req.lname, r);
        }
        if (first === 'kept') return r;
        const later = r;
        return new Promise((resolve) => setImmediate(() => resolve(later)));
      },
    };
  },
};

const countPlugin: PluginDefinition = {
  name: 'count',
  setup() {
    return { name: 'count', observe() { produced++; } };
  },
};

const plugins = [...PLUGINS, bulkPlugin, countPlugin];

function framed(msgs: Buffer[]): Buffer {
  return Buffer.concat(msgs.flatMap((m) => { const l = Buffer.alloc(2); l.writeUInt16BE(m.length); return [l, m]; }));
}

/** A raw client connection with what the server sent and whether it closed. */
interface Client {
  sock: net.Socket;
  closed: Promise<void>;
  isClosed(): boolean;
  /** Answers (DNS messages) received so far; only filled once reading() is called. */
  answers: Buffer[];
  /** Starts reading; resolves once `n` answers arrived (rejects after timeoutMs). */
  read(n: number, timeoutMs?: number): Promise<Buffer[]>;
}

function connect(port: number, opts: { localAddress?: string; read?: boolean } = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress: opts.localAddress });
    let closed = false;
    const closedP = new Promise<void>((r) => sock.once('close', () => { closed = true; r(); }));
    sock.on('error', () => undefined);
    const answers: Buffer[] = [];
    let buf = Buffer.alloc(0);
    let want = Infinity;
    let onEnough: (() => void) | null = null;
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        answers.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (answers.length >= want) onEnough?.();
    };
    const client: Client = {
      sock,
      closed: closedP,
      isClosed: () => closed,
      answers,
      read(n, timeoutMs = 5000) {
        want = n;
        return new Promise((res, rej) => {
          const t = setTimeout(() => rej(new Error(`${answers.length}/${n} answers`)), timeoutMs);
          onEnough = () => { clearTimeout(t); res(answers); };
          void closedP.then(() => { clearTimeout(t); if (answers.length >= n) res(answers); else rej(new Error(`closed after ${answers.length}/${n} answers`)); });
          if (answers.length >= n) onEnough();
          if (!reading) { reading = true; sock.on('data', onData); }
          sock.resume();
        });
      },
    };
    let reading = opts.read !== false;
    if (reading) sock.on('data', onData);
    else sock.pause();
    sock.once('connect', () => resolve(client));
    sock.once('error', reject);
  });
}

/** Polls until `f` has moved from 0 and then stopped changing for `quietMs` (or `maxMs` passed). */
async function settled(f: () => number, quietMs = 400, maxMs = 8000): Promise<number> {
  const until = Date.now() + maxMs;
  let last = f();
  let since = Date.now();
  while (Date.now() < until) {
    await sleep(50);
    const now = f();
    if (now !== last || now === 0) { last = now; since = Date.now(); } else if (Date.now() - since >= quietMs) break;
  }
  return last;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sends one byte every `everyMs` until the socket closes: a slow client that never completes a message. */
function trickle(c: Client, everyMs: number): void {
  const q = framed([queryBytes('x.example.org', 'A')]);
  let i = 0;
  const tick = (): void => {
    if (c.isClosed() || c.sock.destroyed) return;
    c.sock.write(q.subarray(i % (q.length - 1), (i % (q.length - 1)) + 1));
    i++;
    setTimeout(tick, everyMs).unref();
  };
  tick();
}

/** One query on a fresh connection: the answer's ID, or null if the server refused or never answered. */
async function probe(port: number, id: number, localAddress?: string): Promise<number | null> {
  let c: Client;
  try { c = await connect(port, { localAddress }); } catch { return null; }
  c.sock.write(framed([queryBytes('probe.example.org', 'A', { id })]));
  try {
    const [a] = await c.read(1, 2000);
    return a!.readUInt16BE(0);
  } catch {
    return null;
  } finally {
    c.sock.destroy();
  }
}

describe('TCP robustness', function () {
  this.timeout(30_000);
  const clients: Client[] = [];
  let srv: Running | null = null;
  let upstream: Upstream | null = null;

  before(() => setLogSink(() => undefined));
  after(() => setLogSink(null));
  afterEach(async () => {
    for (const c of clients.splice(0)) c.sock.destroy();
    await srv?.stop();
    await upstream?.stop();
    srv = null;
    upstream = null;
  });

  async function client(port: number, opts: Parameters<typeof connect>[1] = {}): Promise<Client> {
    const c = await connect(port, opts);
    clients.push(c);
    return c;
  }

  describe('a pipelining client that does not read', () => {
    // 20,000 queries whose answers are ~3.2 KB each: 64 MB if the server
    // answered them all into its own buffer. Kernel socket buffers on
    // loopback hold a few MB, so a bounded server stops well short of that.
    const total = 20_000;

    async function pipelineWithoutReading(port: number, name: (i: number) => string): Promise<{ whileStalled: number; answers: Buffer[] }> {
      const c = await client(port, { read: false });
      const msgs: Buffer[] = [];
      for (let i = 0; i < total; i++) msgs.push(queryBytes(name(i), 'A', { id: i & 0xffff }));
      c.sock.write(framed(msgs));
      const whileStalled = await settled(() => produced);
      const answers = await c.read(total, 20_000);
      return { whileStalled, answers };
    }

    it('stops answering while its unsent replies pile up, and answers everything once it reads (kept encodings)', async () => {
      srv = await startCorefile('example.org {\n  count\n  bulk 200\n}\n', { plugins });
      produced = 0;
      const { whileStalled, answers } = await pipelineWithoutReading(srv.port, () => 'kept.example.org');
      expect(whileStalled).to.be.below(total / 2, `replies produced while the client did not read (of ${total})`);
      expect(answers).to.have.length(total);
      expect(new Set(answers.map((a) => a.readUInt16BE(0))).size).to.equal(total);
    });

    it('bounds asynchronous answers the same way', async () => {
      srv = await startCorefile('example.org {\n  count\n  bulk 200\n}\n', { plugins });
      produced = 0;
      const { whileStalled, answers } = await pipelineWithoutReading(srv.port, () => 'later.example.org');
      expect(whileStalled).to.be.below(total / 2, `replies produced while the client did not read (of ${total})`);
      expect(answers).to.have.length(total);
    });

    it('bounds forwarded answers the same way', async () => {
      // The upstream answers from bytes built once per name (encoding 200 records per query would be the slow part).
      const built = new Map<string, Buffer>();
      upstream = await startUpstream({
        answer: (q) => {
          let wire = built.get(q.name);
          if (!wire) {
            const answers = Array.from({ length: 200 }, (_, i) => ({ name: q.name, type: 'A' as const, ttl: 60, data: `192.0.2.${(i % 250) + 1}` }));
            wire = dnsPacket.encode({ type: 'response', id: 0, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: [{ name: q.name, type: 'A', class: 'IN' }], answers });
            built.set(q.name, wire);
          }
          const out = Buffer.from(wire);
          out.writeUInt16BE(q.id, 0);
          return out;
        },
      });
      srv = await startCorefile(`. {\n  count\n  forward . ${upstream.hostPort}\n}\n`, { plugins });
      produced = 0;
      const n = 3000;
      const c = await client(srv.port, { read: false });
      const msgs: Buffer[] = [];
      for (let i = 0; i < n; i++) msgs.push(queryBytes(`n${i % 50}.fwd.test`, 'A', { id: i }));
      c.sock.write(framed(msgs));
      const whileStalled = await settled(() => produced, 600, 15_000);
      expect(whileStalled).to.be.below(n / 2, `forwarded replies produced while the client did not read (of ${n})`);
      const answers = await c.read(n, 20_000);
      expect(answers).to.have.length(n);
    });
  });

  describe('slow and idle connections', () => {
    it('closes a connection whose client stops reading its answers for longer than the write deadline', async () => {
      srv = await startCorefile('example.org {\n  bulk 200\n}\n', { plugins, tcp: { writeTimeoutMs: 300 } });
      const c = await client(srv.port, { read: false });
      c.sock.write(framed(Array.from({ length: 5000 }, (_, i) => queryBytes('kept.example.org', 'A', { id: i }))));
      // A client that does not read cannot see the server close either: look once the deadline is long past.
      await sleep(1500);
      const got = await c.read(5000, 5000).then((a) => a.length, () => c.answers.length);
      expect(c.isClosed(), 'closed by the server').to.equal(true);
      expect(got).to.be.below(5000);
    });

    it('closes a connection that trickles bytes but never completes a message', async () => {
      srv = await startCorefile('example.org {\n  bulk 1\n}\n', { plugins, tcp: { readTimeoutMs: 300, idleTimeoutMs: 5000 } });
      const c = await client(srv.port);
      trickle(c, 50);
      const outcome = await Promise.race([c.closed.then(() => 'closed'), sleep(4000).then(() => 'still open')]);
      expect(outcome).to.equal('closed');
    });

    it('keeps answering TCP while every slot is held by clients that trickle bytes', async () => {
      srv = await startCorefile('example.org {\n  bulk 1\n}\n', { plugins, tcp: { maxConnections: 4, readTimeoutMs: 20_000, idleTimeoutMs: 20_000 } });
      for (let i = 0; i < 4; i++) trickle(await client(srv.port), 50);
      await sleep(200);
      const ids: Array<number | null> = [];
      for (let i = 1; i <= 5; i++) ids.push(await probe(srv.port, i));
      expect(ids).to.deep.equal([1, 2, 3, 4, 5]);
    });

    it('closes the longest-idle connection, not the newcomer, when every slot is taken', async () => {
      srv = await startCorefile('example.org {\n  bulk 1\n}\n', { plugins, tcp: { maxConnections: 3, idleTimeoutMs: 20_000 } });
      const idle: Client[] = [];
      for (let i = 0; i < 3; i++) {
        const c = await client(srv.port);
        c.sock.write(framed([queryBytes('x.example.org', 'A', { id: i })]));
        await c.read(1);
        idle.push(c);
        await sleep(20);
      }
      expect(await probe(srv.port, 99)).to.equal(99);
      await Promise.race([idle[0]!.closed, sleep(2000)]);
      expect(idle.map((c) => c.isClosed())).to.deep.equal([true, false, false]);
    });

    it('bounds the connections of one client address, keeping its newest', async () => {
      srv = await startCorefile('example.org {\n  bulk 1\n}\n', { plugins, tcp: { maxConnections: 50, maxConnectionsPerClient: 2, readTimeoutMs: 20_000, idleTimeoutMs: 20_000 } });
      const mine: Client[] = [];
      for (let i = 0; i < 5; i++) {
        const c = await client(srv.port, { localAddress: '127.0.0.2' });
        trickle(c, 50);
        mine.push(c);
        await sleep(50);
      }
      await Promise.race([Promise.all(mine.slice(0, 3).map((c) => c.closed)), sleep(2000)]);
      expect(mine.map((c) => c.isClosed())).to.deep.equal([true, true, true, false, false]);
      expect(await probe(srv.port, 7, '127.0.0.3')).to.equal(7);
    });
  });

  describe('a client that half-closes', () => {
    it('answers every query sent before its FIN, forwarded ones too, then closes', async () => {
      upstream = await startUpstream({ delayMs: 50 });
      srv = await startCorefile(`example.org {\n  bulk 1\n}\n. {\n  forward . ${upstream.hostPort}\n}\n`, { plugins });
      const c = await client(srv.port);
      const msgs: Buffer[] = [];
      for (let i = 0; i < 20; i++) msgs.push(queryBytes(`name${i}.fwd.test`, 'A', { id: i }));
      for (let i = 20; i < 25; i++) msgs.push(queryBytes(`x${i}.example.org`, 'A', { id: i }));
      msgs.push(queryBytes('later.example.org', 'A', { id: 25 }));
      c.sock.end(framed(msgs));
      const ended = new Promise<void>((r) => c.sock.once('end', () => r()));
      const answers = await c.read(26, 5000);
      expect(answers.map((a) => a.readUInt16BE(0)).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 26 }, (_, i) => i));
      await Promise.race([ended, sleep(3000)]);
      expect(c.sock.readableEnded, 'the server closes its side after the last answer').to.equal(true);
    });
  });
});

describe('FrameQueue', () => {
  it('hands out messages one at a time, across any split, skipping empty ones', () => {
    const q = new FrameQueue();
    // [1,2,3], an empty message, [4,5], then a prefix announcing one byte that never comes.
    const wire = Buffer.from([0, 3, 1, 2, 3, 0, 0, 0, 2, 4, 5, 0, 1]);
    const cuts = [0, 1, 4, 9, wire.length];
    const got: number[][] = [];
    for (let i = 1; i < cuts.length; i++) {
      q.push(wire.subarray(cuts[i - 1], cuts[i]));
      for (let m = q.next(); m !== null; m = q.next()) got.push([...m]);
    }
    expect(got).to.deep.equal([[1, 2, 3], [4, 5]]);
    expect(q.buffered, 'the start of a message still missing its body').to.equal(2);
    q.clear();
    expect(q.buffered).to.equal(0);
  });
});
