// node-local's footprint and cache-hit speed, as it runs on a node: inside
// a private network namespace, with deploy/node-local's ConfigMap Corefile
// and DaemonSet args, the compiled server (dist/, as the image ships it),
// serving on 169.254.20.10.
//
// 1. RSS idle (after start), 2. RSS with a warm cache: 10,000 distinct names
// asked once through the local IP (the ConfigMap's `.:53` cache holds 9,984
// successes, as node-cache's), 3. cache-hit QPS with dnsperf on the local IP
// over 5,000 of those names (server pinned to cpu0, dnsperf to cpu1), and
// RSS after that load.
//
//   node --import tsx bench/nodelocal.ts [--seconds 10] [--no-build]

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { NetNs, netnsUnavailable, until } from '../test/support/netns.js';
import { numberFlag } from './lib/args.js';
import { rssMB } from './lib/proc.js';

const argv = process.argv.slice(2);
const SECONDS = numberFlag('seconds', 10);
const NAMES = 10_000;
const HIT_NAMES = 5_000;
const LOCAL_IP = '169.254.20.10';

/** RSS and its private part (the rest is the node binary's file pages, shared by every Node process on the node). */
function memory(pid: number): string {
  const roll = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(roll)?.[1] ?? NaN);
  return `${rssMB(pid).toFixed(1)} MB (private ${((kb('Private_Dirty') + kb('Private_Clean')) / 1024).toFixed(1)} MB, shared file pages ${(kb('Shared_Clean') / 1024).toFixed(1)} MB)`;
}

function nameOf(i: number): string {
  return `host${i}.bench.example`;
}

async function main(): Promise<void> {
  const why = netnsUnavailable(['iptables', 'dnsperf', 'taskset']);
  if (why) throw new Error(`needs a private network namespace: ${why}`);
  if (!argv.includes('--no-build')) {
    const b = spawnSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
    if (b.status !== 0) throw new Error('npm run build failed');
  }
  const { loadAllYaml } = await import('@kubernetes/client-node');
  const cm = loadAllYaml(readFileSync('deploy/node-local/configmap.yaml', 'utf8'))[0] as { data: { Corefile: string } };
  const ds = loadAllYaml(readFileSync('deploy/node-local/daemonset.yaml', 'utf8'))[0] as { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } };
  const args = ds.spec.template.spec.containers[0]!.args;

  const ns = new NetNs();
  try {
    ns.writeEtc('coredns/Corefile.base', cm.data.Corefile);
    ns.writeEtc('resolv.conf', 'nameserver 127.0.0.3\n');
    let hosts = '';
    let all = '';
    let hits = '';
    for (let i = 0; i < NAMES; i++) {
      hosts += `192.0.${2 + Math.floor(i / 250)}.${1 + (i % 250)} ${nameOf(i)}\n`;
      all += `${nameOf(i)} A\n`;
      if (i < HIT_NAMES) hits += `${nameOf(i)} A\n`;
    }
    ns.writeEtc('bench/hosts', hosts);
    ns.writeEtc('bench/all.txt', all);
    ns.writeEtc('bench/hits.txt', hits);
    // One server plays both the cluster DNS (127.0.0.2) and the node's resolv.conf upstream (127.0.0.3).
    ns.writeEtc('bench/upstream.Corefile', '.:53 {\n    bind 127.0.0.2 127.0.0.3\n    hosts /etc/bench/hosts {\n        ttl 3600\n    }\n}\n');
    await ns.start();
    const node = [process.execPath, 'dist/src/cli.js'];
    const upstream = ns.spawn(['taskset', '-c', '1', ...node, '--conf', '/etc/bench/upstream.Corefile']);
    if (!(await until(() => upstream.output().includes('serving conf='), 60_000))) throw new Error(`upstream: ${upstream.output()}`);
    const nl = ns.spawn(['taskset', '-c', '0', ...node, 'node-local', ...args], { KUBE_DNS_UPSTREAM_SERVICE_HOST: '127.0.0.2' });
    if (!(await until(() => nl.output().includes('serving conf='), 60_000))) throw new Error(`node-local: ${nl.output()}`);
    await new Promise((r) => setTimeout(r, 3000));
    const pid = nl.child.pid!;
    const idle = memory(pid);

    const perf = (file: string, extra: string[]): string => {
      const r = ns.run(['taskset', '-c', '1', 'dnsperf', '-s', LOCAL_IP, '-d', file, '-c', '4', '-q', '100', '-t', '2', ...extra], (SECONDS + 60) * 1000);
      if (r.code !== 0) throw new Error(`dnsperf: ${r.out}`);
      return r.stdout;
    };
    const figure = (out: string, re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
    // Warm: every name once (misses, forwarded to the upstream), at a modest rate.
    const warm = perf('/etc/bench/all.txt', ['-n', '1', '-Q', '5000']);
    await new Promise((r) => setTimeout(r, 2000));
    const warmRss = memory(pid);
    const load = perf('/etc/bench/hits.txt', ['-l', String(SECONDS)]);
    const afterRss = memory(pid);

    console.log(`node-local (dist/, deploy/node-local ConfigMap + DaemonSet args) on ${LOCAL_IP}, in a private network namespace`);
    console.log(`  RSS idle after start:                ${idle}`);
    console.log(`  warm-up: ${figure(warm, /Queries completed:\s+(\d+)/)} of ${NAMES} names answered`);
    console.log(`  RSS with a warm cache (${NAMES} names): ${warmRss}`);
    console.log(`  cache hits, UDP, ${SECONDS}s (server cpu0, dnsperf cpu1): ${figure(load, /Queries per second:\s+([\d.]+)/).toFixed(0)} QPS, `
      + `lost ${figure(load, /Queries lost:\s+(\d+)/)}, avg latency ${(figure(load, /Average Latency \(s\):\s+([\d.]+)/) * 1000).toFixed(2)} ms`);
    console.log(`  RSS after the load:                  ${afterRss}`);
    nl.child.kill('SIGTERM');
    await nl.exited;
  } finally {
    await ns.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
