// node-local's footprint and cache-hit speed, as it runs on a node: inside
// a private network namespace, with deploy/node-local's ConfigMap Corefile
// and DaemonSet args, the compiled server (dist/, as the image ships it),
// serving on 169.254.20.10. Used by bench/nodelocal.ts and bench/run.ts.
//
// 1. RSS idle (after start), 2. RSS with a warm cache: 10,000 distinct names
// asked once through the local IP (the ConfigMap's `.:53` cache holds 9,984
// successes, as node-cache's), 3. cache-hit QPS with dnsperf on the local IP
// over 5,000 of those names (server pinned to cpu0, dnsperf to cpu1), and
// RSS after that load.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { NetNs, netnsUnavailable, until } from '../../test/support/netns.js';
import { rssMB } from './proc.js';

const NAMES = 10_000;
const HIT_NAMES = 5_000;
export const LOCAL_IP = '169.254.20.10';

export interface Memory { rss: number; private: number; sharedFile: number }
export interface NodeLocalFigures { idle: Memory; warm: Memory; after: Memory; warmAnswered: number; names: number; hitQps: number; lost: number; latencyMs: number; seconds: number }

/** RSS and its private part (the rest is the node binary's file pages, shared by every Node process on the node). */
function memory(pid: number): Memory {
  const roll = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(roll)?.[1] ?? NaN);
  return { rss: rssMB(pid), private: (kb('Private_Dirty') + kb('Private_Clean')) / 1024, sharedFile: kb('Shared_Clean') / 1024 };
}

export function memoryText(m: Memory): string {
  return `${m.rss.toFixed(1)} MB (private ${m.private.toFixed(1)} MB, shared file pages ${m.sharedFile.toFixed(1)} MB)`;
}

function nameOf(i: number): string {
  return `host${i}.bench.example`;
}

/** Why node-local cannot be measured here (no namespace, missing tools), or null. */
export function nodeLocalUnavailable(): string | null {
  return netnsUnavailable(['iptables', 'dnsperf', 'taskset']);
}

/** Runs the built server (dist/) as node-local in a private namespace; `node` is the runtime to use. */
export async function nodeLocalFigures(seconds: number, node = process.execPath): Promise<NodeLocalFigures> {
  const cm = yaml.loadAll(readFileSync('deploy/node-local/configmap.yaml', 'utf8'))[0] as { data: { Corefile: string } };
  const ds = yaml.loadAll(readFileSync('deploy/node-local/daemonset.yaml', 'utf8'))[0] as { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } };
  const args = ds.spec.template.spec.containers[0]?.args;
  if (!args) throw new Error('deploy/node-local/daemonset.yaml has no container args');

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
    const cli = [node, 'dist/src/cli.js'];
    const upstream = ns.spawn(['taskset', '-c', '1', ...cli, '--conf', '/etc/bench/upstream.Corefile']);
    if (!(await until(() => upstream.output().includes('serving conf='), 60_000))) throw new Error(`upstream: ${upstream.output()}`);
    const nl = ns.spawn(['taskset', '-c', '0', ...cli, 'node-local', ...args], { KUBE_DNS_UPSTREAM_SERVICE_HOST: '127.0.0.2' });
    if (!(await until(() => nl.output().includes('serving conf='), 60_000))) throw new Error(`node-local: ${nl.output()}`);
    await new Promise((r) => setTimeout(r, 3000));
    const pid = nl.child.pid;
    if (pid === undefined) throw new Error('node-local did not start');
    const idle = memory(pid);

    const perf = (file: string, extra: string[]): string => {
      const r = ns.run(['taskset', '-c', '1', 'dnsperf', '-s', LOCAL_IP, '-d', file, '-c', '4', '-q', '100', '-t', '2', ...extra], (seconds + 60) * 1000);
      if (r.code !== 0) throw new Error(`dnsperf: ${r.out}`);
      return r.stdout;
    };
    const figure = (out: string, re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
    // Warm: every name once (misses, forwarded to the upstream), at a modest rate.
    const warmOut = perf('/etc/bench/all.txt', ['-n', '1', '-Q', '5000']);
    await new Promise((r) => setTimeout(r, 2000));
    const warm = memory(pid);
    const load = perf('/etc/bench/hits.txt', ['-l', String(seconds)]);
    const after = memory(pid);
    nl.child.kill('SIGTERM');
    await nl.exited;
    return {
      idle, warm, after, names: NAMES, seconds,
      warmAnswered: figure(warmOut, /Queries completed:\s+(\d+)/),
      hitQps: figure(load, /Queries per second:\s+([\d.]+)/),
      lost: figure(load, /Queries lost:\s+(\d+)/),
      latencyMs: figure(load, /Average Latency \(s\):\s+([\d.]+)/) * 1000,
    };
  } finally {
    await ns.stop();
  }
}
