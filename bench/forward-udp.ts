// How forward should send UDP to upstreams: a fresh socket per query (a new
// kernel-randomised source port each time) against a shared pool of
// sockets. Upstream: bench/echo-server.ts on the other core. Prints figures.
//
//   node --import tsx bench/forward-udp.ts [--seconds 3] [--concurrency 64]
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import dnsPacket from 'dns-packet';
import { checkUpstreamReply } from '../src/dns/wire.js';
import { ForwardMetrics } from '../src/plugins/forward/metrics.js';
import { Upstream } from '../src/plugins/forward/upstream.js';
import { buildQuery } from '../src/dns/build-query.js';
import { checkReply, randomId, withId } from '../src/plugins/forward/wire.js';
import { freePort } from '../test/support/server.js';
import { numberFlag } from './lib/args.js';

const SECONDS = numberFlag('seconds', 3);
const CONC = numberFlag('concurrency', 64);

type Exchange = (q: Buffer, qend: number) => Promise<unknown>;

async function run(label: string, ex: Exchange): Promise<void> {
  const q = buildQuery('www.example.org', 1, 1, { ednsSize: 1232 });
  const qend = q.length - 11;
  let n = 0;
  let errors = 0;
  const end = performance.now() + SECONDS * 1000;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONC }, async () => {
    while (performance.now() < end) {
      try { await ex(q, qend); n++; } catch { errors++; }
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const us = (cpu.user + cpu.system) / n;
  console.log(`${label.padEnd(44)} ${(n / secs).toFixed(0).padStart(7)} q/s  ${us.toFixed(1).padStart(6)} µs CPU/query  errors ${errors}`);
}

const port = await freePort();
const echo = spawn('taskset', ['-c', '1', process.execPath, '--import', 'tsx', 'bench/echo-server.ts', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise<void>((resolve) => echo.stdout!.once('data', () => resolve()));

const metrics = new ForwardMetrics();
const u = new Upstream({ host: '127.0.0.1', port }, {
  expireMs: 10_000, maxIdleConns: 0, maxFails: 0, healthCheckMs: 500, healthCheckDomain: '.',
  healthCheckRecursion: true, healthCheckTimeoutMs: 1000, forceTcp: false,
}, metrics);

// A: what forward does: Upstream.query (a fresh connected socket per query,
// and whatever checks a reply passes before forward may use it).
const fresh: Exchange = (q, qend) => u.query(q, qend, 'udp', 2000).promise;

// B: a fresh socket per query, not connected (source checked in user space).
const freshUnconnected: Exchange = (q, qend) => new Promise((resolve, reject) => {
  const id = randomId();
  const question = q.subarray(12, qend);
  const s = dgram.createSocket('udp4');
  const t = setTimeout(() => { s.close(); reject(new Error('timeout')); }, 2000);
  s.on('message', (m, r) => {
    if (r.port !== port || checkReply(m, id, question) !== null) return;
    clearTimeout(t); s.close(); resolve(m);
  });
  s.send(withId(q, id), port, '127.0.0.1');
});

// C: a pool of sockets bound to random ports, each replaced after `life` queries.
function pooled(size: number, life: number): Exchange {
  interface S { sock: dgram.Socket; uses: number; waiting: Map<number, (m: Buffer) => void> }
  const make = (): S => {
    const s: S = { sock: dgram.createSocket('udp4'), uses: 0, waiting: new Map() };
    s.sock.on('message', (m, r) => {
      if (r.port !== port || m.length < 12) return;
      const w = s.waiting.get(m.readUInt16BE(0));
      if (w) w(m);
    });
    s.sock.bind(0, '127.0.0.1');
    return s;
  };
  const pool = Array.from({ length: size }, make);
  let next = 0;
  return (q, qend) => new Promise((resolve, reject) => {
    const i = next++ % size;
    let s = pool[i];
    if (s === undefined || s.uses >= life) {
      const old = s;
      if (old !== undefined) setTimeout(() => old.sock.close(), 2100);
      s = pool[i] = make();
    }
    s.uses++;
    let id = randomId();
    while (s.waiting.has(id)) id = randomId();
    const question = q.subarray(12, qend);
    const t = setTimeout(() => { s.waiting.delete(id); reject(new Error('timeout')); }, 2000);
    s.waiting.set(id, (m) => {
      if (checkReply(m, id, question) !== null) return;
      clearTimeout(t); s.waiting.delete(id); resolve(m);
    });
    s.sock.send(withId(q, id), port, '127.0.0.1');
  });
}

/** In-process cost of checking one upstream reply end to end (checkUpstreamReply), ns. */
function checkCost(label: string, reply: Buffer): void {
  const N = 200_000;
  for (let i = 0; i < 20_000; i++) checkUpstreamReply(reply);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) checkUpstreamReply(reply);
  console.log(`${label.padEnd(44)} ${(((performance.now() - t0) * 1e6) / N).toFixed(0).padStart(7)} ns/reply`);
}
const typical = dnsPacket.encode({
  type: 'response', id: 1, flags: 0x8180, questions: [{ name: 'www.example.org', type: 'A', class: 'IN' }],
  answers: [
    { name: 'www.example.org', type: 'CNAME', ttl: 60, data: 'edge.example.net' },
    ...[1, 2, 3, 4].map((i) => ({ name: 'edge.example.net', type: 'A' as const, ttl: 60, data: `192.0.2.${i}` })),
  ],
  authorities: [{ name: 'example.net', type: 'NS', ttl: 60, data: 'ns1.example.net' }],
  additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as never],
});
checkCost('check: echo reply (question + OPT)', (() => { const q = buildQuery('www.example.org', 1, 1, { ednsSize: 1232 }); q[2] = (q[2] ?? 0) | 0x80; return q; })());
checkCost('check: CNAME + 4 A + NS + OPT', typical);

console.log(`forward UDP transport, ${CONC} queries in flight, ${SECONDS}s each, echo upstream on cpu1`);
for (let round = 0; round < 3; round++) {
  await run('fresh connected socket per query (forward)', fresh);
  await run('fresh unconnected socket per query', freshUnconnected);
  await run('pool of 16 sockets, replaced every 100 uses', pooled(16, 100));
  await run('pool of 16 sockets, never replaced', pooled(16, Infinity));
}
echo.kill('SIGTERM');
u.stop();
process.exit(0); // the pools' sockets are left open
