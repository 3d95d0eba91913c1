// Two servers forwarding to each other (issue 15): one client query for an
// external name, how many times it reaches the servers and how long until
// the client gets an answer. Prints figures.
//
//   node --import tsx bench/forward-loop.ts [--seconds 5]
import { performance } from 'node:perf_hooks';
import { setLogSink } from '../src/log.js';
import { queryBytes, udpRaw } from '../test/support/dns.js';
import { startLoopPair } from '../test/support/loop-pair.js';
import { removeDir, writeCluster } from '../test/support/kubernetes-fixtures.js';
import { numberFlag } from './lib/args.js';

const SECONDS = numberFlag('seconds', 5);

setLogSink(() => undefined);
const dir = writeCluster();
const pair = await startLoopPair(dir);
const name = 'loop-bench.example.org';
const t0 = performance.now();
const reply = await udpRaw(pair.a.port, queryBytes(name, 'A', { edns: 1232 }), SECONDS * 1000);
const ms = performance.now() - t0;
const hops = (pair.hopsA.get(name) ?? 0) + (pair.hopsB.get(name) ?? 0);
const rcode = reply ? ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN'][reply[3]! & 0xf] ?? String(reply[3]! & 0xf) : 'no answer';
console.log(`answer: ${rcode} after ${ms.toFixed(0)} ms; queries seen: A ${pair.hopsA.get(name) ?? 0}, B ${pair.hopsB.get(name) ?? 0}, total ${hops}`);
// The loop keeps going after the client got its answer: count until the window ends.
await new Promise((r) => setTimeout(r, Math.max(0, SECONDS * 1000 - ms)));
console.log(`within ${SECONDS} s of the query: A ${pair.hopsA.get(name) ?? 0}, B ${pair.hopsB.get(name) ?? 0}, total ${(pair.hopsA.get(name) ?? 0) + (pair.hopsB.get(name) ?? 0)}`);
await pair.stop();
removeDir(dir);
