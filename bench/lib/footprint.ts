// Footprint figures of the built server (dist/src/cli.js), each from a fresh
// child process: start to first answer on the embedded demo, and idle RSS in
// API mode with kubeadm's default Corefile block.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import yaml from 'js-yaml';
import { FakeKubeApi, endpointSlice, namespace, service } from '../../test/support/kube-api.js';
import { queryBytes, udpRaw } from '../../test/support/dns.js';
import { freePort } from '../../test/support/server.js';
import { rssMB, stopChild } from './proc.js';

const CLI = process.env.CLUSTERDNS_CLI ?? 'dist/src/cli.js';

function startCli(node: string, conf: string, env: NodeJS.ProcessEnv = process.env): { child: ChildProcess; output: () => string } {
  const child = spawn(node, [CLI, '--conf', conf], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  const add = (d: Buffer): void => { out += d.toString(); if (out.length > 50_000) out = out.slice(-20_000); };
  child.stdout!.on('data', add);
  child.stderr!.on('data', add);
  return { child, output: () => out };
}

/** Polls `name` over UDP until it answers NOERROR; returns the time that took from `since`. */
async function untilAnswered(port: number, name: string, since: number, child: ChildProcess, output: () => string, limitMs: number): Promise<number> {
  for (;;) {
    const raw = await udpRaw(port, queryBytes(name, 'A'), 20);
    if (raw !== null && (raw[3]! & 0xf) === 0) return performance.now() - since;
    if (child.exitCode !== null) throw new Error(`clusterdns exited:\n${output()}`);
    if (performance.now() - since > limitMs) throw new Error(`${name} not answered after ${limitMs} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * `npm start`'s Corefile (config/Corefile, manifests of config/cluster) on a free port: ms from spawn
 * to the first NOERROR answer, and RSS then. `compileCache: false` is a machine's first start (Node's
 * compile cache off, as NODE_DISABLE_COMPILE_CACHE=1 sets it); every later start has the cache.
 */
export async function demoFirstAnswer(node: string, compileCache = true): Promise<{ ms: number; rss: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'clusterdns-demo-'));
  const port = await freePort();
  const text = readFileSync('config/Corefile', 'utf8')
    .replace(/^\.:1053 \{/m, `.:${port} {`)
    .replace(/manifests cluster\//, `manifests ${resolve('config/cluster')}`);
  if (!text.includes(`.:${port} {`)) throw new Error('config/Corefile changed shape: update bench/lib/footprint.ts');
  writeFileSync(join(dir, 'Corefile'), text);
  const t0 = performance.now();
  const { child, output } = startCli(node, join(dir, 'Corefile'), compileCache ? process.env : { ...process.env, NODE_DISABLE_COMPILE_CACHE: '1' });
  try {
    const ms = await untilAnswered(port, 'web.demo.svc.cluster.local', t0, child, output, 30_000);
    return { ms, rss: rssMB(child.pid!) };
  } finally {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A small cluster like a fresh kubeadm one plus a few apps: ~20 services. */
function loadSmallCluster(api: FakeKubeApi): void {
  for (const ns of ['default', 'kube-system', 'kube-public', 'apps', 'monitoring']) api.upsert('namespaces', namespace(ns));
  const add = (ns: string, name: string, ip: string, port: number, eps: string[]): void => {
    api.upsert('services', service(ns, name, { clusterIP: ip, clusterIPs: [ip], ports: [{ name: 'p', protocol: 'TCP', port }] }));
    api.upsert('endpointslices', endpointSlice(ns, `${name}-x`, name, 'IPv4', eps.map((a) => ({ addresses: [a], conditions: { ready: true } })), [{ name: 'p', protocol: 'TCP', port }]));
  };
  add('default', 'kubernetes', '10.96.0.1', 443, ['192.0.2.10']);
  add('kube-system', 'kube-dns', '10.96.0.10', 53, ['10.244.0.2', '10.244.0.3']);
  for (let i = 0; i < 18; i++) add(i % 2 ? 'apps' : 'monitoring', `svc${i}`, `10.96.1.${i + 1}`, 8080, [`10.244.1.${2 * i + 1}`, `10.244.1.${2 * i + 2}`]);
}

/**
 * deploy/configmap.yaml's Corefile (kubeadm's default block) against the test
 * API server: every port moved to a free one on 127.0.0.1, the API reached
 * through a kubeconfig instead of in-cluster config, `forward` to `upstream`
 * instead of /etc/resolv.conf. RSS once synced and answering, after `idleMs`.
 */
export async function kubeadmIdleRss(node: string, upstream: string, idleMs = 2000): Promise<{ syncMs: number; rss: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'clusterdns-idle-'));
  const api = new FakeKubeApi();
  await api.start(0);
  loadSmallCluster(api);
  const [dns, health, ready, prom] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const cm = yaml.load(readFileSync('deploy/configmap.yaml', 'utf8')) as { data: { Corefile: string } };
  const text = cm.data.Corefile
    .replace(/^\.:53 \{/m, `.:${dns} {\n    bind 127.0.0.1`)
    .replace(/health \{/, `health 127.0.0.1:${health} {`)
    .replace(/^(\s*)ready$/m, `$1ready 127.0.0.1:${ready}`)
    .replace(/prometheus :9153/, `prometheus 127.0.0.1:${prom}`)
    .replace(/forward \. \/etc\/resolv\.conf/, `forward . ${upstream}`)
    .replace(/(kubernetes cluster\.local in-addr\.arpa ip6\.arpa \{)/, `$1\n       kubeconfig ${api.writeKubeconfig(dir)}`);
  for (const p of [dns, health, ready, prom]) if (!text.includes(String(p))) throw new Error('deploy/configmap.yaml changed shape: update bench/lib/footprint.ts');
  if (text.includes('resolv.conf')) throw new Error('deploy/configmap.yaml changed shape: update bench/lib/footprint.ts');
  writeFileSync(join(dir, 'Corefile'), text);
  const t0 = performance.now();
  const { child, output } = startCli(node, join(dir, 'Corefile'));
  try {
    const syncMs = await untilAnswered(dns, 'svc17.apps.svc.cluster.local', t0, child, output, 60_000);
    await new Promise((r) => setTimeout(r, idleMs));
    return { syncMs, rss: rssMB(child.pid!) };
  } finally {
    await stopChild(child);
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
