// End-to-end forwarding: dnsperf -> clusterdns (forward, cpu0) -> echo upstream
// (bench/echo-server.ts). dnsperf and the echo server share cpu1. Prints figures.
//
//   node --import tsx bench/forward.ts [--seconds 5] [--rounds 3]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/support/server.js';
import { dnsperf } from './lib/dnsperf.js';
import { cpuSeconds, median, startPinned, stopChild } from './lib/proc.js';
import { numberFlag } from './lib/args.js';

const SECONDS = numberFlag('seconds', 5);
const ROUNDS = numberFlag('rounds', 3);

const dir = mkdtempSync(join(tmpdir(), 'clusterdns-bench-fwd-'));
const echoPort = await freePort();
const echo = await startPinned('1', process.execPath, ['--import', 'tsx', 'bench/echo-server.ts', String(echoPort)], 'echo ready');
const port = await freePort();
const corefile = join(dir, 'Corefile');
writeFileSync(corefile, `.:${port} {\n    bind 127.0.0.1\n    forward . 127.0.0.1:${echoPort}\n}\n`);
const names = join(dir, 'queries.txt');
writeFileSync(names, Array.from({ length: 1000 }, (_, i) => `host${i}.example.org A`).join('\n') + '\n');
const server = await startPinned('0', process.execPath, ['--import', 'tsx', 'src/cli.ts', '--conf', corefile], 'serving');

const qps: number[] = [];
const cpu: number[] = [];
const lat: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const c0 = cpuSeconds(server.pid!);
  const res = await dnsperf({ port, file: names, seconds: SECONDS, clients: 4, outstanding: 64, core: '1' });
  const used = cpuSeconds(server.pid!) - c0;
  qps.push(res.qps);
  cpu.push((used / res.completed) * 1e6);
  lat.push(res.avgLatencyMs);
  console.log(`round ${r + 1}: ${res.qps.toFixed(0)} q/s forwarded, ${((used / res.completed) * 1e6).toFixed(1)} µs server CPU/query, avg latency ${res.avgLatencyMs.toFixed(2)} ms, lost ${res.lost}`);
}
console.log(`median: ${median(qps).toFixed(0)} q/s, ${median(cpu).toFixed(1)} µs CPU/query, ${median(lat).toFixed(2)} ms`);
await stopChild(server);
await stopChild(echo);
rmSync(dir, { recursive: true, force: true });
