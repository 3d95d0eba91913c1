// Footprint figures alone (the tail of `npm run bench`, without dnsperf or knotd):
// start to first answer on the embedded demo and idle RSS in API mode with
// kubeadm's Corefile block, each a median of fresh child processes.
//
//   npm run bench:footprint [-- --runs 5]
//
// The API mode Corefile forwards to a loopback port nothing answers on: an idle
// server never asks it anything.
import { cpus } from 'node:os';
import { numberFlag } from './lib/args.js';
import { demoFirstAnswer, kubeadmIdleRss } from './lib/footprint.js';
import { median } from './lib/proc.js';
import { freePort } from '../test/support/server.js';

const RUNS = numberFlag('runs', 5);
const demo: number[] = [];
const demoUncached: number[] = [];
const demoRss: number[] = [];
const idle: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const d = await demoFirstAnswer(process.execPath);
  demo.push(d.ms);
  demoRss.push(d.rss);
  demoUncached.push((await demoFirstAnswer(process.execPath, false)).ms);
}
const upstream = `127.0.0.1:${await freePort()}`;
for (let i = 0; i < RUNS; i++) idle.push((await kubeadmIdleRss(process.execPath, upstream)).rss);
const list = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(', ');
console.log(`# footprint (Node ${process.version}, ${cpus()[0]?.model ?? '?'} x${cpus().length}; medians of ${RUNS})`);
console.log('| figure | median | target | runs |');
console.log('|---|---:|---:|---|');
console.log(`| start to first answer, embedded demo | ${median(demo).toFixed(0)} ms | <= 300 ms | ${list(demo)} |`);
console.log(`| the same, a first start (no compile cache yet) | ${median(demoUncached).toFixed(0)} ms | | ${list(demoUncached)} |`);
console.log(`| RSS at first answer, embedded demo | ${median(demoRss).toFixed(0)} MB | | ${list(demoRss)} |`);
console.log(`| idle RSS, API mode (kubeadm block, 20 services) | ${median(idle).toFixed(0)} MB | <= 70 MB | ${list(idle)} |`);
