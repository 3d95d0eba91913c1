// In-process cost of one query through DnsServer.inject (no sockets): parse, route,
// chain, encode. Prints ns/query for cluster-name answers, NXDOMAIN search-path misses,
// and cache hits. Run: node --import tsx bench/hotpath.ts
// CPU time is the figure to compare on a shared machine: wall time grows with other load.
import { performance } from 'node:perf_hooks';
import { queryBytes } from '../test/support/dns.js';
import { startCorefile } from '../test/support/server.js';
import { startUpstream } from '../test/support/upstream.js';

const up = await startUpstream();
const srv = await startCorefile(`cluster.local in-addr.arpa {
    kubernetes cluster.local in-addr.arpa {
        manifests config/cluster
    }
}
. {
    cache 300
    forward . ${up.hostPort}
}
`);
const server = srv.server;

async function measure(label: string, q: Buffer, n = 200_000): Promise<void> {
  // Warm: fills caches and lets the JIT settle.
  for (let i = 0; i < 2000; i++) { const r = server.inject(q); if (r instanceof Promise) await r; }
  let sync = true;
  const t = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const r = server.inject(q);
    if (r instanceof Promise) { sync = false; await r; }
  }
  const ns = ((performance.now() - t) * 1e6) / n;
  const c = process.cpuUsage(c0);
  const cpuNs = ((c.user + c.system) * 1e3) / n;
  console.log(`${label.padEnd(40)} ${cpuNs.toFixed(0).padStart(6)} ns CPU/query ${ns.toFixed(0).padStart(6)} ns wall${sync ? '' : ' (async)'}`);
}

/** The floor on this machine right now: what bench/echo-server.ts does per query (copy, flip QR), same loop. */
function echoReference(q: Buffer, n = 200_000): void {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) { const m = Buffer.from(q); m[2] = (m[2] ?? 0) | 0x80; }
  const c = process.cpuUsage(c0);
  console.log(`${'echo reference (copy + QR bit)'.padEnd(40)} ${(((c.user + c.system) * 1e3) / n).toFixed(0).padStart(6)} ns CPU/query`);
}

for (let round = 0; round < 2; round++) {
  echoReference(queryBytes('web.demo.svc.cluster.local', 'A', { id: 1 }));
  await measure('A web.demo.svc.cluster.local', queryBytes('web.demo.svc.cluster.local', 'A', { id: 1 }));
  await measure('A + EDNS web.demo.svc.cluster.local', queryBytes('web.demo.svc.cluster.local', 'A', { id: 1, edns: 1232 }));
  await measure('NXDOMAIN search-path miss', queryBytes('web.demo.svc.cluster.local.demo.svc.cluster.local', 'A', { id: 1 }));
  await measure('cache hit example.com', queryBytes('example.com', 'A', { id: 1 }));
}
await srv.stop();
await up.stop();
