// Profiles clusterdns under dnsperf load: cluster names (default), cached forwarded names
// (--cache), cluster names through rewrite + template + autopath (--plugins, run.ts's
// clusterdns-plugins target), or the bare echo server on the same load (--echo: the floor to compare with). Prints the functions with the most self time. Not a benchmark: figures are skewed
// by the profiler; use it to find where the query path spends its time.
//
//   node --import tsx bench/profile.ts [--cache | --plugins | --echo] [--seconds 5]
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/support/server.js';
import { startClusterApi, pluginsChainCorefile, queryFile, zoneFile } from './lib/cluster.js';
import { dnsperf } from './lib/dnsperf.js';
import { writeKnotConfig } from './lib/knot.js';
import { cpuSeconds, startPinned, stopChild } from './lib/proc.js';

const argv = process.argv.slice(2);
const cache = argv.includes('--cache');
const echo = argv.includes('--echo');
const plugins = argv.includes('--plugins');
const seconds = Number(argv[argv.indexOf('--seconds') + 1] || 5);

interface Node { callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number; id: number }

async function main(): Promise<void> {
  const { api, svcs } = await startClusterApi();
  const dir = mkdtempSync(join(tmpdir(), 'clusterdns-prof-'));
  const knotPort = await freePort();
  const z = zoneFile(svcs);
  let ext = '$ORIGIN example.test.\n@ 300 IN SOA ns.example.test. h.example.test. 1 7200 1800 86400 300\n@ 300 IN NS ns\nns 300 IN A 127.0.0.1\n';
  for (let i = 0; i < 100; i++) ext += `host${i} 300 IN A 192.0.2.${i + 1}\n`;
  const knot = await startPinned('1', 'knotd', ['-c', writeKnotConfig(dir, knotPort, [{ name: 'example.test', text: ext }, { name: 'cluster.local', text: z.forward }])], 'server started');
  const port = await freePort();
  writeFileSync(join(dir, 'Corefile'), `cluster.local:${port} in-addr.arpa:${port} {
    bind 127.0.0.1
    kubernetes cluster.local in-addr.arpa {
        kubeconfig ${api.writeKubeconfig(dir)}
    }
}
.:${port} {
    bind 127.0.0.1
    cache 300
    forward . 127.0.0.1:${knotPort}
}
`);
  if (plugins) writeFileSync(join(dir, 'Corefile'), pluginsChainCorefile(port, api.writeKubeconfig(dir), knotPort));
  const qfile = join(dir, 'q.txt');
  writeFileSync(qfile, cache ? Array.from({ length: 100 }, (_, i) => `host${i}.example.test A`).join('\n') + '\n' : queryFile(svcs));
  const profDir = join(dir, 'prof');
  const cd = echo
    ? await startPinned('0', process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--import', 'tsx', 'bench/echo-server.ts', String(port)], 'echo ready')
    : await startPinned('0', process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, 'dist/src/cli.js', '--conf', join(dir, 'Corefile')], 'serving conf=');
  await dnsperf({ port, file: qfile, seconds: 1, clients: 4, outstanding: 50, core: '1' });
  const c0 = cpuSeconds(cd.pid!);
  const r = await dnsperf({ port, file: qfile, seconds, clients: 8, outstanding: 200, core: '1' });
  const cpu = cpuSeconds(cd.pid!) - c0;
  console.log(`${echo ? 'echo server' : cache ? 'cache hits' : plugins ? 'cluster names through rewrite + template + autopath' : 'cluster names'}: ${Math.round(r.qps)} QPS (profiled), ${(cpu / r.completed * 1e6).toFixed(1)} µs CPU/query`);
  await stopChild(cd);
  await stopChild(knot);
  await api.stop();
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'))!;
  const prof = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as { nodes: Node[] };
  const self = new Map<string, number>();
  let total = 0;
  for (const n of prof.nodes) {
    const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*\/(dist|node_modules)\//, '')}:${n.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + n.hitCount);
    total += n.hitCount;
  }
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30);
  for (const [k, v] of top) console.log(`${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
