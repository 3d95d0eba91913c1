// In-process cost of the template plugin in the query path (DnsServer.handle,
// no sockets): the same block with and without AKS's two template blocks,
// for cluster names (which no template takes), a node name the AKS regex
// lets through, and the NXDOMAINs the templates answer.
// Run: node --import tsx bench/template.ts
// CPU ns/query is the figure to compare on a shared machine.
import { performance } from 'node:perf_hooks';
import { queryBytes } from '../test/support/dns.js';
import { startCorefile, type Running } from '../test/support/server.js';
import { startUpstream } from '../test/support/upstream.js';
import { AKS_TEMPLATES } from './lib/cluster.js';

const up = await startUpstream();
const corefile = (templates: string): string => `. {
    kubernetes cluster.local in-addr.arpa {
        manifests config/cluster
    }
    cache 300
${templates}
    forward . ${up.hostPort}
}
`;

async function measure(srv: Running, label: string, q: Buffer, n = 200_000): Promise<void> {
  // The public in-process entry: the listener's whole query path, no sockets.
  for (let i = 0; i < 2000; i++) { const r = srv.server.inject(q); if (r instanceof Promise) await r; }
  let sync = true;
  const t = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const r = srv.server.inject(q);
    if (r instanceof Promise) { sync = false; await r; }
  }
  const ns = ((performance.now() - t) * 1e6) / n;
  const c = process.cpuUsage(c0);
  const cpuNs = ((c.user + c.system) * 1e3) / n;
  console.log(`${label.padEnd(58)} ${cpuNs.toFixed(0).padStart(6)} ns CPU/query ${ns.toFixed(0).padStart(6)} ns wall${sync ? '' : ' (async)'}`);
}

const without = await startCorefile(corefile(''));
const withTemplates = await startCorefile(corefile(AKS_TEMPLATES));
const cluster = queryBytes('web.demo.svc.cluster.local', 'A', { id: 1 });
const miss = queryBytes('web.demo.svc.cluster.local.demo.svc.cluster.local', 'A', { id: 1 });
for (let round = 0; round < 2; round++) {
  // Alternate the two servers so drift on a shared machine hits both alike.
  await measure(without, 'cluster name, no template', cluster);
  await measure(withTemplates, 'cluster name, AKS templates in the chain', cluster);
  await measure(without, 'search-path NXDOMAIN, no template', miss);
  await measure(withTemplates, 'search-path NXDOMAIN, AKS templates', miss);
  await measure(withTemplates, 'x.reddog.microsoft.com (template NXDOMAIN, cached)', queryBytes('x.reddog.microsoft.com', 'A', { id: 1 }));
  await measure(withTemplates, 'node name under internal.cloudapp.net (forwarded, cached)', queryBytes('node-1.abc.xx.internal.cloudapp.net', 'A', { id: 1 }));
}
await without.stop();
await withTemplates.stop();
await up.stop();
