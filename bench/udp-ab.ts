// Built clusterdns checkouts and the bare echo server under the same dnsperf load (cluster
// names over UDP), in alternating rounds: server CPU µs per query (from /proc) and QPS, medians.
// For comparing a change at the socket level on a shared machine, where `npm run bench` mixes
// in every other server and its QPS swings with the load.
//
//   node --import tsx bench/udp-ab.ts <checkout> [<checkout> ...] [--rounds 5] [--seconds 3]
//
// Each checkout must be built (dist/src/cli.js: npm run build there).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { freePort } from '../test/support/server.js';
import { numberFlag } from './lib/args.js';
import { startClusterApi, queryFile } from './lib/cluster.js';
import { dnsperf } from './lib/dnsperf.js';
import { cpuSeconds, median, startPinned, stopChild } from './lib/proc.js';

const argv = process.argv.slice(2);
const dirs = argv.filter((a, i) => !a.startsWith('--') && !(argv[i - 1] ?? '').startsWith('--'));
const ROUNDS = numberFlag('rounds', 5);
const SECONDS = numberFlag('seconds', 3);

interface Target { name: string; port: number; proc: ChildProcess; us: number[]; qps: number[] }

async function main(): Promise<void> {
  const { api, svcs } = await startClusterApi();
  const dir = mkdtempSync(join(tmpdir(), 'clusterdns-udp-ab-'));
  const kubeconfig = api.writeKubeconfig(dir);
  const qfile = join(dir, 'q.txt');
  writeFileSync(qfile, queryFile(svcs));
  const targets: Target[] = [];
  for (const [i, d] of dirs.entries()) {
    const port = await freePort();
    const conf = join(dir, `Corefile.${i}`);
    writeFileSync(conf, `cluster.local:${port} in-addr.arpa:${port} {\n    bind 127.0.0.1\n    kubernetes cluster.local in-addr.arpa {\n        kubeconfig ${kubeconfig}\n    }\n}\n`);
    const proc = await startPinned('0', process.execPath, [join(resolve(d), 'dist/src/cli.js'), '--conf', conf], 'serving conf=', 60_000);
    targets.push({ name: d, port, proc, us: [], qps: [] });
  }
  const echoPort = await freePort();
  const echo = await startPinned('0', process.execPath, ['--import', 'tsx', 'bench/echo-server.ts', String(echoPort)], 'echo ready');
  targets.push({ name: 'node-echo', port: echoPort, proc: echo, us: [], qps: [] });
  for (const t of targets) await dnsperf({ port: t.port, file: qfile, seconds: 1, clients: 4, outstanding: 50, core: '1' });
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate the order each round so drift on the machine hits every target alike.
    for (let k = 0; k < targets.length; k++) {
      const t = targets[(k + r) % targets.length];
      if (t === undefined) continue;
      const pid = t.proc.pid ?? 0;
      const c0 = cpuSeconds(pid);
      const res = await dnsperf({ port: t.port, file: qfile, seconds: SECONDS, clients: 8, outstanding: 200, core: '1' });
      t.us.push(((cpuSeconds(pid) - c0) / Math.max(1, res.completed)) * 1e6);
      t.qps.push(res.qps);
    }
  }
  const e = targets[targets.length - 1];
  for (const t of targets) {
    const us = median(t.us), qps = median(t.qps);
    const vs = e ? `  echo/this CPU ${(median(e.us) / us).toFixed(2)}  QPS this/echo ${(qps / median(e.qps)).toFixed(2)}` : '';
    console.log(`${t.name.padEnd(20)} ${us.toFixed(1).padStart(6)} µs CPU/query ${Math.round(qps).toString().padStart(7)} QPS${vs}   (µs: ${t.us.map((x) => x.toFixed(1)).join(' ')})`);
  }
  for (const t of targets) await stopChild(t.proc);
  await api.stop();
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
