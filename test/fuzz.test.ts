import { expect } from 'chai';
import dgram from 'node:dgram';
import net from 'node:net';
import { PLUGINS } from '../src/plugins/index.js';
import { answerPlugin } from './support/answer-plugin.js';
import { queryBytes, rcodeOf, udpQuery, tcpQuery } from './support/dns.js';
import { startCorefile, type Running } from './support/server.js';

/** Small seeded PRNG (mulberry32): a failing run can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = [
  queryBytes('a.example.org', 'A'),
  queryBytes('big.example.org', 'AAAA', { edns: 4096, do: true }),
  queryBytes('_http._tcp.svc.example.org', 'SRV', { edns: 512 }),
  queryBytes('1.0.0.10.in-addr.arpa', 'PTR'),
  queryBytes('example.org', 'ANY'),
];

function mutate(r: () => number): Buffer {
  const kind = Math.floor(r() * 6);
  const int = (n: number) => Math.floor(r() * n);
  if (kind === 0) {
    // Pure noise of any length up to a large datagram.
    const b = Buffer.alloc(int(600));
    for (let i = 0; i < b.length; i++) b[i] = int(256);
    return b;
  }
  const b = Buffer.from(SEEDS[int(SEEDS.length)]!);
  if (kind === 1) {
    for (let n = 1 + int(8); n > 0; n--) b[int(b.length)] = int(256);
    return b;
  }
  if (kind === 2) return b.subarray(0, int(b.length));
  if (kind === 3) {
    // Lying header counts.
    for (const off of [4, 6, 8, 10]) if (r() < 0.5) b.writeUInt16BE(int(65536), off);
    return b;
  }
  if (kind === 4) {
    // Compression pointers in the question (loops, forward references).
    b[12] = 0xc0 | int(64);
    b[13] = int(256);
    return b;
  }
  const tail = Buffer.alloc(int(200));
  for (let i = 0; i < tail.length; i++) tail[i] = int(256);
  return Buffer.concat([b, tail]);
}

describe('fuzz: random and mutated packets', function () {
  this.timeout(60_000);
  let srv: Running;

  before(async () => {
    srv = await startCorefile('example.org in-addr.arpa {\n answer 40\n}\n', { plugins: [...PLUGINS, answerPlugin] });
  });
  after(() => srv.stop());

  it('survives 20,000 UDP and 2,000 TCP bad packets and still answers, without memory growth', async () => {
    const r = rng(20261127);
    // Warm up so lazily built state does not count as growth.
    for (let i = 0; i < 200; i++) await udpQuery(srv.port, 'warm.example.org', 'A');
    global.gc?.();
    const before = process.memoryUsage();

    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
    let answered = 0;
    sock.on('message', () => answered++);
    const UDP = 20_000;
    for (let i = 0; i < UDP; i++) {
      sock.send(mutate(r), srv.port, '127.0.0.1');
      // Pace in bursts so the kernel buffer is not the thing being tested.
      if (i % 200 === 199) await new Promise((res) => setImmediate(res));
    }
    await new Promise((res) => setTimeout(res, 300));
    sock.close();

    // TCP: garbage frames, including bad lengths, on a handful of connections.
    const TCP = 2_000;
    for (let c = 0; c < 10; c++) {
      await new Promise<void>((resolve) => {
        const s = net.connect(srv.port, '127.0.0.1', () => {
          for (let i = 0; i < TCP / 10; i++) {
            const m = mutate(r);
            const len = Buffer.alloc(2);
            len.writeUInt16BE(r() < 0.1 ? Math.floor(r() * 65536) : m.length);
            s.write(Buffer.concat([len, m]));
          }
          setTimeout(() => { s.destroy(); resolve(); }, 50);
        });
        s.on('error', () => resolve());
      });
    }

    global.gc?.();
    const after = process.memoryUsage();
    const growthMB = (after.heapUsed - before.heapUsed) / 1024 / 1024;
    console.log(`      fuzz: ${UDP} UDP + ${TCP} TCP packets, ${answered} UDP answers, heap ${(before.heapUsed / 1048576).toFixed(1)} -> ${(after.heapUsed / 1048576).toFixed(1)} MB, rss ${(before.rss / 1048576).toFixed(0)} -> ${(after.rss / 1048576).toFixed(0)} MB`);
    expect(growthMB).to.be.lessThan(20);

    const ok = await udpQuery(srv.port, 'still.example.org', 'A');
    expect(rcodeOf(ok)).to.equal('NOERROR');
    const okTcp = await tcpQuery(srv.port, 'still.example.org', 'A');
    expect(rcodeOf(okTcp)).to.equal('NOERROR');
  });
});
