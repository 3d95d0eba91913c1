// Scale benchmark for the kubernetes plugin: a cluster of N services with M endpoints each
// served by the test API server; clusterdns (a child process) syncs it. Prints: time from
// start to the first full answer, RSS after sync, and event-to-answer delay over 200 changes.
//
//   npm run bench:sync [-- --services 10000 --endpoints 10 --changes 200 --rounds 1]
//   (--node-arg X, repeatable: a node flag for the clusterdns child, e.g. --cpu-prof)
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { numberFlag } from './lib/args.js';
import { median } from './lib/proc.js';
import { NAMESPACES, syncAtScale, type ScaleResult } from './lib/scale.js';

const argv = process.argv.slice(2);
const SERVICES = numberFlag('services', 10_000);
const EPS = numberFlag('endpoints', 10);
const CHANGES = numberFlag('changes', 200);
const ROUNDS = numberFlag('rounds', 1);
const NODE_ARGS = argv.flatMap((a, i) => (a === '--node-arg' && argv[i + 1] !== undefined ? [argv[i + 1] ?? ''] : []));

if (!existsSync('dist/src/cli.js') || argv.includes('--build')) execFileSync('npm', ['run', 'build'], { stdio: 'inherit' });

async function main(): Promise<void> {
  console.log(`# Node ${process.version}, ${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores; ${SERVICES} services, ${SERVICES * EPS} endpoints in ${NAMESPACES} namespaces`);
  const rs: ScaleResult[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const r = await syncAtScale({ services: SERVICES, endpoints: EPS, changes: CHANGES, nodeArgs: NODE_ARGS });
    rs.push(r);
    console.log(`round ${i + 1}: synced in ${r.syncMs.toFixed(0)} ms (CPU: clusterdns ${r.childCpu.toFixed(2)} s, bench+fake API ${r.apiCpu.toFixed(2)} s), RSS ${r.rss.toFixed(0)} MB (${r.rssEnd.toFixed(0)} MB after the changes), `
      + `event-to-answer median ${r.eventMedianMs.toFixed(2)} ms p99 ${r.eventP99Ms.toFixed(2)} ms max ${r.eventMaxMs.toFixed(2)} ms (fake API loaded in ${r.loadMs.toFixed(0)} ms)`);
  }
  const m = (f: (r: ScaleResult) => number): number => median(rs.map(f));
  console.log(`start to synced answers: ${m((r) => r.syncMs).toFixed(0)} ms (target <= 3000)`);
  console.log(`CPU to sync: clusterdns ${m((r) => r.childCpu).toFixed(2)} s, bench+fake API ${m((r) => r.apiCpu).toFixed(2)} s`);
  console.log(`RSS after sync: ${m((r) => r.rss).toFixed(0)} MB (target <= 100)`);
  console.log(`event-to-answer over ${CHANGES} new services: median ${m((r) => r.eventMedianMs).toFixed(2)} ms, p99 ${m((r) => r.eventP99Ms).toFixed(2)} ms (target p99 < 50)`);
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
