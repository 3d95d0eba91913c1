// What a cache hit costs, by how the entry is kept:
//  - sections: the answer kept decoded; each hit clones the records with the
//    remaining TTL and the server encodes them (encodeReply);
//  - wire: the upstream's message kept as bytes with its TTL offsets; each
//    hit copies it, patches ID/flags/TTLs/owner case, appends OPT, and the
//    server relays it (relayWire).
// Both through CachePlugin.serve plus the server's encode step, for a
// typical forwarded answer (CNAME + 2 A, EDNS query), with and without
// loadbalance in front (the kubeadm Corefile has both). Prints figures.
//
//   node --import tsx bench/cache-hit.ts [--seconds 2]
import dnsPacket from 'dns-packet';
import { performance } from 'node:perf_hooks';
import { RCODE, UDP_EDNS_CAP } from '../src/dns/constants.js';
import { encodeReply } from '../src/dns/encode.js';
import { isProblem, parseQuery } from '../src/dns/query.js';
import { relayWire, sectionsOf } from '../src/dns/relay.js';
import { records, relay } from '../src/dns/reply.js';
import { CachePlugin } from '../src/plugins/cache/cache.js';
import { parseCache } from '../src/plugins/cache/setup.js';
import { LoadBalancePlugin } from '../src/plugins/loadbalance/loadbalance.js';
import type { Handler, Request } from '../src/server/plugin.js';

const argv = process.argv.slice(2);
const SECONDS = Number(argv[argv.indexOf('--seconds') + 1] || 2);

const raw = dnsPacket.encode({
  type: 'query', id: 1234, flags: dnsPacket.RECURSION_DESIRED,
  questions: [{ name: 'www.example.com', type: 'A', class: 'IN' }],
  additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as never],
});
const q = parseQuery(raw);
if (isProblem(q)) throw new Error(q.reason);
const req: Request = { ...q, raw, proto: 'udp', remoteAddress: '127.0.0.1', localAddress: '127.0.0.1', remotePort: 5353, zone: '', server: 'dns://:53', start: 0, internal: false };
const echo = { id: q.id, flags: q.flags, raw, questionEnd: q.questionEnd, lname: q.lname, edns: q.edns };
const limits = { maxSize: 1232, recursionAvailable: true, ednsSize: UDP_EDNS_CAP };

// The upstream's message, as forward hands it over: names compressed, as real
// servers send them (dns-packet would not compress), with an OPT record.
const upstream = encodeReply(echo, {
  rcode: RCODE.NOERROR, aa: false, authority: [], additional: [],
  answer: [
    { name: 'www.example.com', type: 'CNAME', ttl: 300, data: 'www.example.com.cdn.example.net' },
    { name: 'www.example.com.cdn.example.net', type: 'A', ttl: 60, data: '192.0.2.10' },
    { name: 'www.example.com.cdn.example.net', type: 'A', ttl: 60, data: '192.0.2.11' },
  ],
}, limits);
const asWire: Handler = () => relay(RCODE.NOERROR, 'forward', false, upstream);
const decoded = sectionsOf(upstream, 'kubernetes');
const asSections: Handler = () => records(decoded.rcode, decoded.by, decoded.aa, decoded.answer, decoded.authority, decoded.additional);

const opts = () => parseCache({ name: 'cache', args: ['30'], block: null, file: 'bench', line: 1 }, ['.']);

function chain(origin: Handler, lb: boolean): Handler {
  const cache = new CachePlugin(opts());
  const c: Handler = (r) => cache.serve(r, origin);
  if (!lb) return c;
  const l = new LoadBalancePlugin();
  return (r) => l.serve(r, c);
}

/** One query as the server does it: chain, then encode or relay. */
function once(h: Handler): Buffer {
  const r = h(req);
  if (r instanceof Promise) throw new Error('the chain answered asynchronously');
  if (r.kind === 'drop' || r.kind === 'transfer') throw new Error(`the chain answered with a ${r.kind}`);
  return r.kind === 'relay' ? relayWire(echo, r, limits) : encodeReply(echo, r, limits);
}

function measure(label: string, h: Handler): number {
  const first = once(h); // the miss
  const check = dnsPacket.decode(once(h));
  if (check.answers?.length !== 3 || check.id !== 1234 || !first.length) throw new Error(`${label}: bad answer`);
  for (let i = 0; i < 20_000; i++) once(h); // warm up
  let n = 0;
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) once(h);
    n += 1000;
  }
  const us = ((performance.now() - t0) * 1000) / n;
  console.log(`${label.padEnd(46)} ${us.toFixed(2).padStart(6)} µs/hit  ${(1e6 / us / 1000).toFixed(0).padStart(5)}k hits/s`);
  return us;
}

const results: Record<string, number> = {};
for (let round = 0; round < 2; round++) {
  results.sections = measure('sections kept, re-encoded per hit', chain(asSections, false));
  results.wire = measure('wire kept, TTLs patched per hit', chain(asWire, false));
  results.sectionsLb = measure('sections kept + loadbalance', chain(asSections, true));
  results.wireLb = measure('wire kept + loadbalance (RDATA permuted)', chain(asWire, true));
}
console.log(`patching is ${(results.sections! / results.wire!).toFixed(1)}x faster than re-encoding (${(results.sectionsLb! / results.wireLb!).toFixed(1)}x with loadbalance)`);
