// Scale benchmark for the kubernetes plugin: a cluster of N services with M endpoints each
// served by the test API server; clusterdns (a child process) syncs it. Prints: time from
// start to the first full answer, RSS after sync, and event-to-answer delay over 200 changes.
//
//   npm run bench:sync [-- --services 10000 --endpoints 10 --changes 200]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FakeKubeApi, endpointSlice, namespace, service } from '../test/support/kube-api.js';
import { queryBytes, udpRaw } from '../test/support/dns.js';
import { freePort } from '../test/support/server.js';
import { median, rssMB, stopChild } from './lib/proc.js';
import { numberFlag } from './lib/args.js';

const argv = process.argv.slice(2);
const SERVICES = numberFlag('services', 10_000);
const EPS = numberFlag('endpoints', 10);
const CHANGES = numberFlag('changes', 200);
const NS = 100;

if (!existsSync('dist/src/cli.js') || argv.includes('--build')) execFileSync('npm', ['run', 'build'], { stdio: 'inherit' });

const ip = (n: number, base: number): string => `10.${base + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}`;

async function rcodeOf(port: number, name: string, type = 'A'): Promise<number> {
  const raw = await udpRaw(port, queryBytes(name, type), 500);
  return raw === null ? -1 : raw[3]! & 0xf;
}

async function main(): Promise<void> {
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
  console.log(`# ${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores; ${SERVICES} services, ${SERVICES * EPS} endpoints in ${NS} namespaces (fake API loaded in ${loadMs.toFixed(0)} ms)`);

  const start = performance.now();
  const child = spawn(process.execPath, ['dist/src/cli.js', '--conf', join(dir, 'Corefile')], { stdio: ['ignore', 'ignore', 'pipe'] });
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
  global.gc?.();
  await new Promise((r) => setTimeout(r, 1000));
  const rss = rssMB(child.pid!);
  console.log(`start to synced answers: ${syncMs.toFixed(0)} ms (target < 5000)`);
  console.log(`RSS after sync: ${rss.toFixed(0)} MB (target < 150)`);

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
  console.log(`event-to-answer over ${CHANGES} new services: median ${median(delays).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${delays[delays.length - 1]!.toFixed(2)} ms (target p99 < 50)`);
  console.log(`RSS at end: ${rssMB(child.pid!).toFixed(0)} MB`);
  await stopChild(child);
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
