// The kubernetes plugin at scale: N services with M endpoints each served by
// the test API server; clusterdns (dist/src/cli.js, a child process) syncs
// them. Used by bench/sync.ts and bench/run.ts.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FakeKubeApi, endpointSlice, namespace, service } from '../../test/support/kube-api.js';
import { queryBytes, udpRaw } from '../../test/support/dns.js';
import { freePort } from '../../test/support/server.js';
import { cpuSeconds, median, rssMB, stopChild } from './proc.js';

/** nodeArgs: extra node flags for the child, e.g. --cpu-prof (bench/sync.ts --node-arg). */
export interface ScaleOptions { services: number; endpoints: number; changes: number; node?: string; nodeArgs?: string[] }
export interface ScaleResult { loadMs: number; syncMs: number; childCpu: number; apiCpu: number; rss: number; rssEnd: number; eventMedianMs: number; eventP99Ms: number; eventMaxMs: number }

export const NAMESPACES = 100;
const NS = NAMESPACES;
const ip = (n: number, base: number): string => `10.${base + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}`;

async function rcodeOf(port: number, name: string, type = 'A'): Promise<number> {
  const raw = await udpRaw(port, queryBytes(name, type), 500);
  return raw === null ? -1 : raw[3]! & 0xf;
}

export async function syncAtScale(o: ScaleOptions): Promise<ScaleResult> {
  const { services: SERVICES, endpoints: EPS, changes: CHANGES } = o;
  const api = new FakeKubeApi({ historyLimit: 50_000 });
  await api.start(0);
  const t0 = performance.now();
  for (let n = 0; n < NS; n++) api.upsert('namespaces', namespace(`ns${n}`));
  let ep = 0;
  for (let i = 0; i < SERVICES; i++) {
    const ns = `ns${i % NS}`;
    const headless = i % 10 === 0;
    const ports = [{ name: 'http', protocol: 'TCP', port: 80 }];
    api.upsert('services', service(ns, `svc${i}`, headless ? { clusterIP: 'None', clusterIPs: ['None'], ports } : { clusterIP: ip(i, 96), clusterIPs: [ip(i, 96)], ports }));
    const endpoints = Array.from({ length: EPS }, () => ({ addresses: [ip(ep++, 128)], conditions: { ready: true }, targetRef: { kind: 'Pod', name: `pod-${ep}` } }));
    api.upsert('endpointslices', endpointSlice(ns, `svc${i}-x`, `svc${i}`, 'IPv4', endpoints, [{ name: 'http', protocol: 'TCP', port: 8080 }]));
  }
  const loadMs = performance.now() - t0;
  const dir = mkdtempSync(join(tmpdir(), 'clusterdns-sync-'));
  const port = await freePort();
  writeFileSync(join(dir, 'Corefile'), `cluster.local:${port} {
    bind 127.0.0.1
    kubernetes cluster.local {
        kubeconfig ${api.writeKubeconfig(dir)}
        startup_timeout 60s
    }
}
`);

  const start = performance.now();
  const ownCpu0 = process.cpuUsage();
  const child = spawn(o.node ?? process.execPath, [...(o.nodeArgs ?? []), 'dist/src/cli.js', '--conf', join(dir, 'Corefile')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); if (err.length > 20000) err = err.slice(-10000); });
  const last = `svc${SERVICES - 1}.ns${(SERVICES - 1) % NS}.svc.cluster.local`;
  const firstHeadless = 'svc0.ns0.svc.cluster.local';
  for (;;) {
    if (child.exitCode !== null) throw new Error(`clusterdns exited:\n${err}`);
    if (await rcodeOf(port, last) === 0 && await rcodeOf(port, firstHeadless) === 0) break;
    if (performance.now() - start > 120_000) throw new Error(`not synced after 120 s:\n${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const syncMs = performance.now() - start;
  // CPU up to the synced answer: the child's (our server) and this process's (mostly the fake
  // API serialising lists), to tell our cost from the fake API's on a 2-core machine.
  const childCpu = cpuSeconds(child.pid!);
  const own = process.cpuUsage(ownCpu0);
  const apiCpu = (own.user + own.system) / 1e6;
  await new Promise((r) => setTimeout(r, 1000));
  const rss = rssMB(child.pid!);

  // Event-to-answer: add a service (and its slice), poll until it answers.
  const delays: number[] = [];
  for (let c = 0; c < CHANGES; c++) {
    const name = `new${c}`;
    const t = performance.now();
    api.upsert('services', service('ns0', name, { clusterIP: ip(SERVICES + c, 96), clusterIPs: [ip(SERVICES + c, 96)], ports: [{ name: 'http', protocol: 'TCP', port: 80 }] }));
    for (;;) {
      if (await rcodeOf(port, `${name}.ns0.svc.cluster.local`) === 0) break;
      if (performance.now() - t > 5000) throw new Error(`change ${c} not visible after 5 s`);
    }
    delays.push(performance.now() - t);
  }
  delays.sort((a, b) => a - b);
  const p99 = delays[Math.min(delays.length - 1, Math.floor(delays.length * 0.99))]!;
  const rssEnd = rssMB(child.pid!);
  await stopChild(child);
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
  return { loadMs, syncMs, childCpu, apiCpu, rss, rssEnd, eventMedianMs: median(delays), eventP99Ms: p99, eventMaxMs: delays[delays.length - 1]! };
}
