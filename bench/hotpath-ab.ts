// Two checkouts of clusterdns in ONE process, their inject() paths measured in
// interleaved short batches (A, B, echo reference, A, B, ...): on a shared, noisy
// machine the load hits both alike, and the median (and minimum) of many batches
// compares them where separate runs (bench/hotpath.ts) differ by more than the change.
//
//   node --import tsx bench/hotpath-ab.ts <checkout A> <checkout B> [--batches 40] [--batch 10000]
//
// A checkout is a directory holding this repository's files (e.g. `git archive HEAD | tar -x -C /tmp/a`
// with node_modules linked in). Prints ns of CPU per query per case: median, min, and B/A.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { numberFlag } from './lib/args.js';
import { median } from './lib/proc.js';
import { queryBytes } from '../test/support/dns.js';

interface Running { server: { inject(raw: Buffer): unknown }; stop(): Promise<void> }
type Start = (text: string) => Promise<Running>;

const [dirA, dirB] = process.argv.slice(2).filter((a) => !a.startsWith('--') && !/^\d+$/.test(a));
if (dirA === undefined || dirB === undefined) {
  console.error('usage: node --import tsx bench/hotpath-ab.ts <checkout A> <checkout B> [--batches N] [--batch N]');
  process.exit(2);
}
const BATCHES = numberFlag('batches', 40);
const BATCH = numberFlag('batch', 10_000);

const COREFILE = (root: string): string => `cluster.local in-addr.arpa {
    kubernetes cluster.local in-addr.arpa {
        manifests ${root}/config/cluster
    }
}
`;

async function load(dir: string): Promise<Running> {
  const root = resolve(dir);
  const mod = (await import(pathToFileURL(`${root}/test/support/server.ts`).href)) as { startCorefile: Start };
  return mod.startCorefile(COREFILE(root));
}

const a = await load(dirA);
const b = await load(dirB);

/** CPU ns per call of f over one batch. */
function batch(f: () => unknown): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < BATCH; i++) f();
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1e3) / BATCH;
}

const cases: Array<[string, Buffer]> = [
  ['A web.demo.svc.cluster.local', queryBytes('web.demo.svc.cluster.local', 'A', { id: 1 })],
  ['A + EDNS', queryBytes('web.demo.svc.cluster.local', 'A', { id: 1, edns: 1232 })],
  ['NXDOMAIN search-path miss', queryBytes('web.demo.svc.cluster.local.demo.svc.cluster.local', 'A', { id: 1 })],
];
const fmt = (x: number): string => x.toFixed(0).padStart(6);
console.log(`# A=${dirA} B=${dirB}; ${BATCHES} interleaved batches of ${BATCH}; ns CPU/query (median / min)`);
for (const [label, q] of cases) {
  const echoRef = (): void => { const m = Buffer.from(q); m[2] = (m[2] ?? 0) | 0x80; };
  const ia = (): unknown => a.server.inject(q);
  const ib = (): unknown => b.server.inject(q);
  // Warm: JIT and memos.
  for (let i = 0; i < 3; i++) { batch(ia); batch(ib); batch(echoRef); }
  const ra: number[] = [], rb: number[] = [], re: number[] = [];
  for (let i = 0; i < BATCHES; i++) {
    // Alternate which goes first, so neither always follows the other's garbage.
    if (i % 2 === 0) { ra.push(batch(ia)); rb.push(batch(ib)); } else { rb.push(batch(ib)); ra.push(batch(ia)); }
    re.push(batch(echoRef));
  }
  const ma = median(ra), mb = median(rb), me = median(re);
  console.log(`${label.padEnd(30)} A ${fmt(ma)} /${fmt(Math.min(...ra))}  B ${fmt(mb)} /${fmt(Math.min(...rb))}  echo ${fmt(me)}  B/A ${(mb / ma).toFixed(2)}  (A-echo ${fmt(ma - me)}, B-echo ${fmt(mb - me)})`);
}
await a.stop();
await b.stop();
