// node-local's footprint and cache-hit speed (see bench/lib/nodelocal.ts):
// RSS idle, with 10,000 names cached, and cache-hit QPS on 169.254.20.10,
// inside a private network namespace. npm run bench prints the same figures.
//
//   node --import tsx bench/nodelocal.ts [--seconds 10] [--no-build]

import { spawnSync } from 'node:child_process';
import { numberFlag } from './lib/args.js';
import { LOCAL_IP, memoryText, nodeLocalFigures, nodeLocalUnavailable } from './lib/nodelocal.js';

const argv = process.argv.slice(2);
const SECONDS = numberFlag('seconds', 10);

async function main(): Promise<void> {
  const why = nodeLocalUnavailable();
  if (why) throw new Error(`needs a private network namespace: ${why}`);
  if (!argv.includes('--no-build')) {
    const b = spawnSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
    if (b.status !== 0) throw new Error('npm run build failed');
  }
  const f = await nodeLocalFigures(SECONDS);
  console.log(`node-local (dist/, deploy/node-local ConfigMap + DaemonSet args) on ${LOCAL_IP}, in a private network namespace, Node ${process.version}`);
  console.log(`  RSS idle after start:                ${memoryText(f.idle)}`);
  console.log(`  warm-up: ${f.warmAnswered} of ${f.names} names answered`);
  console.log(`  RSS with a warm cache (${f.names} names): ${memoryText(f.warm)}`);
  console.log(`  cache hits, UDP, ${f.seconds}s (server cpu0, dnsperf cpu1): ${f.hitQps.toFixed(0)} QPS, lost ${f.lost}, avg latency ${f.latencyMs.toFixed(2)} ms`);
  console.log(`  RSS after the load:                  ${memoryText(f.after)}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
