// How many queries a pod's resolver sends for an external name, with and
// without autopath. The resolver is glibc-like: ndots:5 and the three
// cluster search suffixes, so "example.org" (one dot) walks the search
// list first; each candidate is asked A and AAAA at once, and the walk
// stops at the first candidate with an answer. Queries are counted at the
// server (coredns_dns_requests_total). The client is the pod: its IP,
// 127.0.0.1, is the pod's IP in the manifests. All traffic is loopback.
//
//   node --import tsx bench/autopath.ts [--names 20]
import dnsPacket from 'dns-packet';
import { setLogSink } from '../src/log.js';
import { numberFlag } from './lib/args.js';
import { queryBytes, udpRaw } from '../test/support/dns.js';
import { removeDir, writeCluster } from '../test/support/kubernetes-fixtures.js';
import { httpGet } from '../test/support/ops.js';
import { freePort, startCorefile } from '../test/support/server.js';
import { startUpstream } from '../test/support/upstream.js';

const NAMES = numberFlag('names', 20);
const NDOTS = 5;
const SEARCH = ['demo.svc.cluster.local', 'svc.cluster.local', 'cluster.local'];

const CLUSTER = {
  'cluster.yaml': `
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec: {clusterIP: 10.96.1.10, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo}
status: {podIP: 127.0.0.1}
`,
};

/** glibc's order: the search list first when the name has fewer than ndots dots, then the name as is. */
function candidates(name: string): string[] {
  const dots = name.split('.').length - 1;
  const searched = SEARCH.map((s) => `${name}.${s}`);
  return dots >= NDOTS ? [name, ...searched] : [...searched, name];
}

async function answered(port: number, name: string, type: string): Promise<boolean> {
  const raw = await udpRaw(port, queryBytes(name, type, { edns: 1232 }), 3000);
  if (raw === null) throw new Error(`no answer for ${name} ${type}`);
  const p = dnsPacket.decode(raw);
  return (p.answers ?? []).length > 0;
}

/** Resolves like getaddrinfo(AF_UNSPEC): A and AAAA per candidate, stop at the first with an answer. */
async function resolve(port: number, name: string): Promise<void> {
  for (const c of candidates(name)) {
    const [a, aaaa] = await Promise.all([answered(port, c, 'A'), answered(port, c, 'AAAA')]);
    if (a || aaaa) return;
  }
}

async function requests(metricsPort: number): Promise<number> {
  const body = (await httpGet(metricsPort, '/metrics')).body;
  let n = 0;
  for (const m of body.matchAll(/^coredns_dns_requests_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

async function run(autopath: boolean): Promise<number> {
  const dir = writeCluster(CLUSTER);
  const up = await startUpstream();
  const metricsPort = await freePort();
  const srv = await startCorefile(`
. {
    prometheus 127.0.0.1:${metricsPort}
    ${autopath ? 'autopath @kubernetes' : ''}
    kubernetes cluster.local {
        manifests ${dir}
        pods verified
    }
    forward . ${up.hostPort}
}
`);
  try {
    const before = await requests(metricsPort);
    for (let i = 0; i < NAMES; i++) await resolve(srv.port, `host${i}.example.org`);
    return ((await requests(metricsPort)) - before) / NAMES;
  } finally {
    await srv.stop();
    await up.stop();
    removeDir(dir);
  }
}

setLogSink(() => {});
const without = await run(false);
const withAutopath = await run(true);
console.log(`external name, ndots:${NDOTS}, ${SEARCH.length} search suffixes, A+AAAA: ` +
  `${without} queries per lookup without autopath, ${withAutopath} with autopath (${NAMES} names)`);
